"""Benchmark the balance API as production runs it, against the raw PostgreSQL ceiling.

Serves the app with its production server (bin/serve: granian) on PostgreSQL, drives Quadcode-style traffic
with wrk (fresh request_ids, valid ES256 tokens): mixed debit/credit over 10,000 balances
("spread"), the same on one hot balance ("hot"), and replays of already-applied requests
("replay"). Then, with the server stopped, it runs ../shared/bench/pg_limit.sh in the same run
and prints every figure with its ratio to the ceiling. Figures from one run only: the machines
are noisy, ratios are what carries over.

Usage: bench/run [--seconds 20] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_LIMIT = ROOT.parent / "shared" / "bench" / "pg_limit.sh"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
DB = "b2b_bench"
BALANCES = 10_000


def sh(*cmd, env=None, check=True) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and result.returncode:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{result.stdout}")
    return result.stdout


def populate(env: dict) -> None:
    """10,000 customers with one USD balance each, funded by an opening deposit entry."""
    sql = f"""
    INSERT INTO customers_customer (customer_id, email, country_code, first_name, middle_name, last_name,
        phone_number, account_timezone, is_blocked, created_at, updated_at)
    SELECT 'c' || g, 'c' || g || '@example.com', 'DE', '', '', '', '', '', false, now(), now()
    FROM generate_series(1, {BALANCES}) g;
    INSERT INTO balances_balance (balance_id, customer_id, currency, type, amount, created_at)
    SELECT 'b' || c.customer_id_num || '_USD', c.id, 'USD', 'real', 1000000000, now()
    FROM (SELECT id, substr(customer_id, 2)::int AS customer_id_num FROM customers_customer) c;
    INSERT INTO balances_operation (request_id, kind, balance_id, amount, force, created_at)
    SELECT 'open:' || balance_id, 'deposit', id, 1000000000, false, now() FROM balances_balance;
    INSERT INTO balances_ledgerentry (operation_id, balance_id, kind, amount, realized_amount, balance_after,
        comment, created_at)
    SELECT id, balance_id, 'deposit', amount, amount, amount, 'opening amount', now() FROM balances_operation;
    ANALYZE;
    """
    sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-v", "ON_ERROR_STOP=1", "-c", sql)


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering (401/403/404 is an answer)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer at {url}")


def parse_wrk(output: str) -> dict:
    def latency(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": latency("50"), "p99": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "none",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pg-limit-seconds", type=int, default=10)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="b2b-bench-"))
    port = 8765
    env = {**os.environ,
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
           "B2B_ENVIRONMENT": "sandbox",
           "QUADCODE_PUBLIC_KEY_FILES": str(work / "quadcode-sandbox-public.pem"),
           "B2B_ALLOWED_IPS": "127.0.0.1",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "GRANIAN_PORT": str(port)}
    print(f"bench: preparing {DB} with {BALANCES} balances", flush=True)
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", DB)
    sh(PYTHON, "manage.py", "sandbox_keys", str(work), env={**env, "QUADCODE_PUBLIC_KEY_FILES": ""})
    sh(PYTHON, "manage.py", "migrate", "-v0", env=env)
    populate(env)
    token = sh(PYTHON, "manage.py", "sandbox_token", "--private-key", str(work / "quadcode-sandbox-private.pem"),
               "--lifetime", "600", env=env).strip()

    # The server logs one JSON line per request, as in production; they go to a file here.
    server_log = open(work / "server.log", "w")
    server = subprocess.Popen([str(ROOT / "bin" / "serve")], cwd=ROOT, env=env, start_new_session=True,
                              stdout=server_log, stderr=subprocess.STDOUT)
    results = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/customers/c1/balances/b1_USD")
        print(f"bench: bin/serve (granian, workers={env.get('GRANIAN_WORKERS', 2)}, "
              f"blocking threads={env.get('GRANIAN_BLOCKING_THREADS', 2)}), "
              f"wrk -t2 -c{args.connections} -d{args.seconds}s", flush=True)
        run_id = str(int(time.time()))
        for scenario in ("spread", "hot", "replay"):
            scenario_env = {**env, "BENCH_SCENARIO": scenario, "BENCH_TOKEN": token, "BENCH_RUN": run_id,
                            "BENCH_BALANCES": str(BALANCES)}
            wrk = ["wrk", "-t2", f"-c{args.connections}", "--latency", "-s", "bench/load.lua",
                   f"http://127.0.0.1:{port}"]
            sh(*wrk[:3], "-d3s", *wrk[3:], env={**scenario_env, "BENCH_RUN": f"{run_id}w"})  # warm-up
            output = sh(*wrk[:3], f"-d{args.seconds}s", *wrk[3:], env=scenario_env)
            results[scenario] = parse_wrk(output)
            r = results[scenario]
            print(f"bench: {scenario:7s} {r['rps']:8.0f} ops/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                  f"non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server_log.close()

    verify = sh(PYTHON, "manage.py", "ledger_verify", env=env, check=False)
    print(f"bench: {verify.strip()}")
    print(f"bench: running {PG_LIMIT.name} {args.pg_limit_seconds} 8 (raw PostgreSQL, same machine, same run)",
          flush=True)
    limit_out = sh("bash", str(PG_LIMIT), str(args.pg_limit_seconds), "8",
                   env={**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "postgres"})
    limits = dict(re.findall(r"pg_limit (\w+)=(\d+)", limit_out))
    spread_tps, hot_tps = int(limits["spread_tps"]), int(limits["hot_tps"])
    spread, hot, replay = results["spread"], results["hot"], results["replay"]

    rows = [
        ("spread: ops/s / pg_limit spread_tps", spread["rps"] / spread_tps, ">= 0.25"),
        ("spread: p99 latency (ms)", spread["p99"], "<= 50"),
        ("hot:    ops/s / pg_limit hot_tps", hot["rps"] / hot_tps, ">= 0.40"),
        ("replay: ops/s / spread ops/s", replay["rps"] / spread["rps"], "> 1 (a replay costs less)"),
    ]
    print()
    print(f"pg_limit spread_tps={spread_tps} hot_tps={hot_tps}")
    print(f"{'scenario':8s} {'ops/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for name in ("spread", "hot", "replay"):
        r = results[name]
        print(f"{name:8s} {r['rps']:8.0f} {r['p50']:8.2f} {r['p99']:8.2f}")
    print()
    ok = True
    for label, value, target in rows:
        print(f"{label:40s} {value:8.2f}   target {target}")
    ok = (spread["rps"] >= 0.25 * spread_tps and spread["p99"] <= 50 and hot["rps"] >= 0.4 * hot_tps
          and replay["rps"] > spread["rps"] and "OK" in verify and not any(r["non_2xx"] for r in results.values()))
    print(f"\nbench: {'all targets met' if ok else 'TARGETS MISSED'}")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB, check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
