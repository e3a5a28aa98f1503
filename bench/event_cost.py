"""What the event log costs a debit or credit: the ledger's own statement (balances.services,
exactly as the balance API runs it) from 8 threads for a few seconds with the entries table's
event trigger on, then off, alternating rounds in one run on one database, so the machine's
noise falls on both alike. Prints ops/s per round and the median ratio (off / on).

The trigger appends one event row per entry in the same transaction; this measures that row's
whole price at the database, with no HTTP in front (through the API the share is smaller still).

Usage: bench/event-cost [--rounds 3] [--seconds 5] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BALANCES, PYTHON, populate, server_env, sh  # noqa: E402

DB = "b2b_event_cost"


def drive(seconds: float, threads: int) -> float:
    from django.db import connection

    from balances.services import ledger_credit, ledger_debit

    done = [0] * threads
    stop = time.monotonic() + seconds
    run = uuid.uuid4().hex[:8]

    def worker(t: int) -> None:
        import random

        rng = random.Random(t)
        n = 0
        while time.monotonic() < stop:
            b = rng.randint(1, BALANCES)
            move = ledger_debit if n % 2 else ledger_credit
            move(customer_id=f"c{b}", balance_id=f"b{b}_USD", request_id=f"{run}-{t}-{n}", amount=Decimal("1.25"),
                 currency="USD", comment="bench")
            n += 1
        done[t] = n
        connection.close()

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="b2b-event-cost-"))
    env = server_env(DB, work, 0, QUADCODE_PUBLIC_KEY_FILES="")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", DB)
    sh(PYTHON, "manage.py", "migrate", "-v0", env=env)
    populate(DB)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")
    import django

    django.setup()
    from django.db import connection

    def trigger(on: bool) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE balances_ledgerentry {'ENABLE' if on else 'DISABLE'} TRIGGER "
                           "balances_ledgerentry_event")

    drive(2, args.threads)  # warm-up
    ratios = []
    try:
        for round_ in range(1, args.rounds + 1):
            trigger(True)
            with_log = drive(args.seconds, args.threads)
            trigger(False)
            without = drive(args.seconds, args.threads)
            ratios.append(without / with_log)
            print(f"event-cost: round {round_}: with the event log {with_log:7.0f} ops/s, without {without:7.0f} ops/s "
                  f"(x{without / with_log:.3f})", flush=True)
    finally:
        trigger(True)
        connection.close()
        sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB, check=False)
    ratio = statistics.median(ratios)
    print(f"event-cost: median over {args.rounds} rounds: without the event log x{ratio:.3f}; with it the "
          f"ledger statement keeps {100 / ratio:.1f} % of its throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
