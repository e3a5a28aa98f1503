"""What sealing personal data costs: the same probe (bench/pii_probe.py) on the code before
personal data were sealed and on this checkout, alternating in one run (these machines are
noisy: only ratios measured side by side mean anything; the two take turns going first). Prints
medians per round and the ratio of their medians.

    bench/pii-cost [--before REV] [--rounds 3] [--creations 300] [--visits 100] [--gets 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import PII_KEY, PYTHON, ROOT, pg_port, sh

sys.path.insert(0, str(ROOT))
from b2b_server.keys import write_es256_keypair  # noqa: E402

MIGRATION = "customers/migrations/0004_personal_data_sealed.py"
MEASURES = {"create": "customer creation (no login)", "first_visit": "trading-room page, first visit",
            "visit": "trading-room page, returning", "balance_get": "balance API GET (in-process)"}


def before_sealing() -> str:
    added = sh("git", "log", "--diff-filter=A", "--format=%H", "--", MIGRATION).split()
    return f"{added[-1]}^" if added else "HEAD"


def tree_of(rev: str, into: Path) -> Path:
    into.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def simulator(keys: Path) -> tuple[subprocess.Popen, str]:
    port = 18765
    process = subprocess.Popen([PYTHON, "-m", "simulator", "--port", str(port), "--b2b-public-key",
                                str(keys / "b2b-public.pem"), "--quadcode-private-key",
                                str(keys / "quadcode-private.pem"), "--balance-api-url", "http://127.0.0.1:1",
                                "--issuer", "broker-bench"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/_control/calls", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the simulator did not start")


def probe(tree: Path, tag: str, keys: Path, url: str, args) -> dict:
    db = f"b2b_pii_{tag}"
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", db)
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port()}/{db}",
           "B2B_ENVIRONMENT": "sandbox", "B2B_PII_KEYS": PII_KEY, "QUADCODE_API_URL": url,
           "B2B_PRIVATE_KEY_FILE": str(keys / "b2b-private.pem"), "B2B_JWT_ISSUER": "broker-bench",
           "QUADCODE_PUBLIC_KEY_FILES": str(keys / "quadcode-public.pem"), "B2B_ALLOWED_IPS": "127.0.0.1",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "REQUEST_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING",
           "CELERY_BROKER_URL": "", "REDIS_URL": "redis://127.0.0.1:6379/12", "B2B_COUNTRY_HEADER": "",
           "B2B_TRADEROOM_RATE_PER_IP": "100000/minute", "B2B_TRADEROOM_RATE_PER_USER": "100000/minute",
           "BENCH_QUADCODE_PRIVATE_KEY": str(keys / "quadcode-private.pem")}
    try:
        out = subprocess.run([PYTHON, str(ROOT / "bench" / "pii_probe.py"), tag, str(args.creations),
                              str(args.visits), str(args.gets)], cwd=tree, env=env, capture_output=True, text=True,
                             timeout=1800)
        if out.returncode:
            raise SystemExit(f"probe {tag} failed:\n{out.stdout}\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None, help="the revision to compare with (default: before sealing)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--creations", type=int, default=300)
    parser.add_argument("--visits", type=int, default=100)
    parser.add_argument("--gets", type=int, default=2000)
    args = parser.parse_args()
    before = args.before or before_sealing()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        keys = work / "keys"
        keys.mkdir()
        for name in ("quadcode", "b2b"):
            write_es256_keypair(keys / f"{name}-private.pem", keys / f"{name}-public.pem")
        trees = {"before": tree_of(before, work / "before"), "after": ROOT}
        process, url = simulator(keys)
        results = {"before": [], "after": []}
        try:
            for round_ in range(1, args.rounds + 1):
                # Each round the other goes first: whatever the first run of a round pays (a cold
                # cache, autovacuum of the last round's database) falls on both alike.
                order = list(trees.items()) if round_ % 2 else list(trees.items())[::-1]
                for name, tree in order:
                    urllib.request.urlopen(urllib.request.Request(f"{url}/_control/reset", data=b"{}",
                                                                  method="POST"), timeout=5)
                    results[name].append(probe(tree, f"{name}{round_}", keys, url, args))
                    shown = ", ".join(f"{key} {value:.3f} ms" for key, value in results[name][-1].items())
                    print(f"pii-cost: round {round_} {name}: {shown}", flush=True)
        finally:
            process.terminate()
    rev = sh("git", "rev-parse", "--short", before).strip()
    print(f"pii-cost: before = {rev} (plain columns), after = this checkout (sealed); medians of "
          f"{args.rounds} rounds")
    for key, label in MEASURES.items():
        b = statistics.median(r[key] for r in results["before"])
        a = statistics.median(r[key] for r in results["after"])
        print(f"pii-cost: {label:34} before {b:8.3f} ms  after {a:8.3f} ms  after/before {a / b:5.2f}")


if __name__ == "__main__":
    main()
