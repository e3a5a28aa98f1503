"""Benchmark the balance API as production runs it, against the raw PostgreSQL ceiling.

Serves the app with its production server (bin/serve: granian) on PostgreSQL, drives Quadcode-style traffic
with wrk (fresh request_ids, valid ES256 tokens): mixed debit/credit over 10,000 balances
("spread"), the same on one hot balance ("hot"), and replays of already-applied requests
("replay"). Then, with the server stopped, it runs bench/pg_limit.sh in the same run
and prints every figure with its ratio to the ceiling; and our own debit and credit statements
under pgbench (bench/ledger_limit.py), which splits the gap: what the ledger's rules cost in the
database, and what the rest of a call costs. Each scenario also prints the CPU the server and
PostgreSQL spent per call. Figures from one run only: the machines
are noisy, ratios are what carries over.

The server runs as in production, with Redis and the per-customer limit counting every call (its
rate raised so that "hot" is not refused), and the event log numbered every 2 s as beat does.
BENCH_API_RATE= (empty) turns the limit off, to measure what it costs.

With --pgbouncer the server reaches PostgreSQL through a PgBouncer of its own in transaction
mode (bench/pgbouncer.py), as docs/operations.md ("Poolers") deploys it; that needs
--no-server-prepares (DATABASE_SERVER_PREPARES=false), which also measures on its own what the
prepared ledger statement saves. With --profile the workers are sampled (py-spy) during "spread"
and the top frames printed. Every run also drives the naive peer (bench/naive/README.md) with the
same load and prints our lead.

Usage: bench/run [--seconds 20] [--connections 16] [--pgbouncer] [--no-server-prepares] [--db NAME] [--port N]
                 [--profile] [--no-naive]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ledger_limit
import pgbouncer
import sampling
from common import BALANCES, PYTHON, ROOT, pg_port, prepare, scenario_line, serve, server_env, sh, stop, wrk
from naive_peer import WORKERS, naive_run

PG_LIMIT = ROOT / "bench" / "pg_limit.sh"
DB = "b2b_bench"
PGBOUNCER_PORT = 6439


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pg-limit-seconds", type=int, default=10)
    parser.add_argument("--pgbouncer", action="store_true",
                        help="serve through a PgBouncer of its own in transaction mode (needs --no-server-prepares)")
    parser.add_argument("--no-server-prepares", action="store_true", help="DATABASE_SERVER_PREPARES=false")
    parser.add_argument("--db", default=DB, help=f"the scratch database (dropped and made again; default {DB})")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive peer")
    parser.add_argument("--profile", action="store_true",
                        help="sample the workers with py-spy during the spread scenario and print the top frames")
    args = parser.parse_args()
    if args.pgbouncer and not args.no_server_prepares:
        parser.error("--pgbouncer (transaction mode) needs --no-server-prepares")

    work = Path(tempfile.mkdtemp(prefix="b2b-bench-"))
    port, db = args.port, args.db
    # The per-customer limit counts every call, as in production; its rate is raised because
    # "hot" sends every call for one customer, far past any real trader.
    env = server_env(db, work, port, B2B_API_RATE_PER_CUSTOMER=os.environ.get("BENCH_API_RATE", "100000000/minute"))
    if args.no_server_prepares:
        env["DATABASE_SERVER_PREPARES"] = "false"
    print(f"bench: preparing {db} with {BALANCES} balances", flush=True)
    token = prepare(db, work, env)

    bouncer, direct_env = None, dict(env)
    if args.pgbouncer:
        # The pooler drops the app's start-up options: the waits come from the database's defaults.
        sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c",
           f"ALTER DATABASE {db} SET lock_timeout = '5s'; ALTER DATABASE {db} SET statement_timeout = '30s'; "
           f"ALTER DATABASE {db} SET idle_in_transaction_session_timeout = '60s'")
        bouncer = pgbouncer.start(port=PGBOUNCER_PORT, server_port=int(pg_port()))
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:{PGBOUNCER_PORT}/{db}",
                   DATABASE_SERVER_SIDE_CURSORS="false")
    # The server logs one JSON line per request, as in production; they go to a file here.
    server = serve(env, work / "server.log")
    # The event log is numbered as production numbers it: beat's task every 2 s (settings).
    sequencer = subprocess.Popen([PYTHON, "manage.py", "events_sequence", "--follow", "--interval", "2"], cwd=ROOT,
                                 env=direct_env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    results = {}
    try:
        print(f"bench: bin/serve (granian, workers={env.get('GRANIAN_WORKERS', 2)}, "
              f"blocking threads={env.get('GRANIAN_BLOCKING_THREADS', 4)}), "
              f"wrk -t2 -c{args.connections} -d{args.seconds}s; database "
              f"{'through PgBouncer (transaction mode)' if bouncer else 'direct'}, server-side prepares "
              f"{'off' if args.no_server_prepares else 'on'}", flush=True)
        run_id = str(int(time.time()))
        url = f"http://127.0.0.1:{port}"
        for scenario in ("spread", "hot", "replay"):
            scenario_env = {**env, "BENCH_SCENARIO": scenario, "BENCH_TOKEN": token, "BENCH_RUN": run_id,
                            "BENCH_BALANCES": str(BALANCES)}
            wrk(url, 3, args.connections, {**scenario_env, "BENCH_RUN": f"{run_id}w"})  # warm-up
            samplers = sampling.start(server.pid, args.seconds, work) if args.profile and scenario == "spread" else []
            results[scenario] = r = wrk(url, args.seconds, args.connections, scenario_env, server_pid=server.pid)
            if samplers:
                sampling.report(samplers)
            print(scenario_line(scenario, r), flush=True)
    finally:
        stop(server)
        sequencer.terminate()
        sequencer.wait(timeout=30)
        if bouncer is not None:
            pgbouncer.stop(bouncer)

    verify = sh(PYTHON, "manage.py", "ledger_verify", env=direct_env, check=False)
    print(f"bench: {verify.strip()}")
    naive = {}
    if not args.no_naive:
        print(f"bench: the naive peer (bench/naive: DRF @api_view, gunicorn, {WORKERS} sync workers), same load",
              flush=True)
        naive = naive_run(db, work, direct_env, token, port=port + 1, seconds=args.seconds,
                          connections=args.connections, run_id=run_id)
    print(f"bench: running {PG_LIMIT.name} {args.pg_limit_seconds} 8 (raw PostgreSQL, same machine, same run)",
          flush=True)
    limit_out = sh("bash", str(PG_LIMIT), str(args.pg_limit_seconds), "8",
                   env={**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "postgres", "PG_LIMIT_DB": f"{db}_pg_limit"})
    limits = dict(re.findall(r"pg_limit (\w+)=(\d+)", limit_out))
    spread_tps, hot_tps = int(limits["spread_tps"]), int(limits["hot_tps"])
    print(f"bench: running the ledger's own statements under pgbench ({ledger_limit.__name__}.py: "
          f"{args.pg_limit_seconds} s, 8 clients, on {db})", flush=True)
    statement = ledger_limit.run(db, direct_env, args.pg_limit_seconds, 8)
    spread, hot, replay = results["spread"], results["hot"], results["replay"]

    rows = [
        ("spread: ops/s / pg_limit spread_tps", spread["rps"] / spread_tps, ">= 0.35",
         spread["rps"] >= 0.35 * spread_tps),
        ("spread: p99 latency (ms)", spread["p99"], "<= 25", spread["p99"] <= 25),
        ("hot:    ops/s / pg_limit hot_tps", hot["rps"] / hot_tps, ">= 0.6", hot["rps"] >= 0.6 * hot_tps),
        ("replay: ops/s / spread ops/s", replay["rps"] / spread["rps"], ">= 2", replay["rps"] >= 2 * spread["rps"]),
    ]
    print()
    print(f"pg_limit spread_tps={spread_tps} hot_tps={hot_tps}")
    print(f"ledger statement spread_tps={statement['ledger_spread_tps']} hot_tps={statement['ledger_hot_tps']}")
    print(f"{'scenario':14s} {'ops/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU ms/call':>12s} {'PG ms/call':>11s}")
    for name, r in [*results.items(), *((f"naive {name}", r) for name, r in naive.items())]:
        print(f"{name:14s} {r['rps']:8.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['cpu_ms']:12.3f} "
              f"{r.get('pg_ms', float('nan')):11.3f}")
    for name, r in naive.items():
        ours = results[name]["rps"] / r["rps"]
        rows.append((f"{name}: ours / the naive peer (ops/s)", ours, ">= 2", ours >= 2))
        rows.append((f"{name}: naive / ours (server CPU per call)", r["cpu_ms"] / results[name]["cpu_ms"], "", True))
    for scenario, limit in (("spread", spread_tps), ("hot", hot_tps)):
        own = statement[f"ledger_{scenario}_tps"]
        rows.append((f"{scenario}: ledger statement / pg_limit", own / limit, "", True))
        rows.append((f"{scenario}: ops/s / ledger statement", results[scenario]["rps"] / max(1, own), "", True))
    print()
    for label, value, target, _ in rows:
        print(f"{label:44s} {value:8.2f}   {'target ' + target if target else ''}")
    ok = (all(met for *_, met in rows) and "OK" in verify
          and not any(r["non_2xx"] for r in [*results.values(), *naive.values()]))
    print(f"\nbench: {'all targets met' if ok else 'TARGETS MISSED'} (one run; the machine's other jobs move "
          f"ops/s, CPU per call hardly)")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db, check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
