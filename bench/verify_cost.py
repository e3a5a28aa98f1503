"""What ledger_verify costs on a big ledger, from its checkpoints and in full.

Loads a fresh database with 10,000 balances and N historical entries (default 10^7) spread over
the past year, makes the checkpoints (one backfill run over everything), adds a day's worth of new
entries through the ledger's own single statement, then times `ledger_verify` (from the latest
checkpoints: what came after them, and the chain) and `ledger_verify --full` (everything, every
hash recomputed), each in its own process. Prints the figures; the database is dropped at the end
(--keep keeps it).

Usage: bench/verify-cost [--entries 10000000] [--new 20000] [--keep]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from common import PYTHON, load_history, populate, server_env, sh

DB = "b2b_verify_bench"


def timed(label: str, *cmd: str, env: dict) -> tuple[float, str]:
    started = time.monotonic()
    out = sh(*cmd, env=env, check=False).strip()
    seconds = time.monotonic() - started
    print(f"verify-cost: {label:28s} {seconds:8.1f} s   {out.splitlines()[-1] if out else ''}", flush=True)
    return seconds, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=20_000, help="entries made after the checkpoints")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="b2b-verify-"))
    env = server_env(DB, work, 0)
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", DB)
    sh(PYTHON, "manage.py", "migrate", "-v0", env={**env, "QUADCODE_PUBLIC_KEY_FILES": ""})
    env["QUADCODE_PUBLIC_KEY_FILES"] = ""
    started = time.monotonic()
    populate(DB, days_ago=366)
    load_history(DB, args.entries)
    size = sh("psql", "-At", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-c",
              "SELECT count(*), pg_size_pretty(pg_database_size(current_database())) FROM balances_ledgerentry")
    print(f"verify-cost: loaded {size.strip()} (entries | database) in {time.monotonic() - started:.0f} s", flush=True)
    timed("checkpoints (backfill)", PYTHON, "manage.py", "ledger_checkpoint", env=env)
    sql = f"""
    DO $$ DECLARE b bigint; BEGIN
      FOR i IN 1..{args.new} LOOP
        SELECT id INTO b FROM balances_balance ORDER BY id OFFSET (i % 10000) LIMIT 1;
        WITH op AS (INSERT INTO balances_operation (request_id, kind, balance_id, amount, force, created_at)
                    VALUES ('n' || i, 'credit', b, 1.00, false, now()) RETURNING id, balance_id),
             upd AS (UPDATE balances_balance SET amount = amount + 1.00 WHERE id = b RETURNING amount)
        INSERT INTO balances_ledgerentry (operation_id, balance_id, kind, amount, realized_amount, balance_after,
                                          comment, created_at)
        SELECT op.id, op.balance_id, 'credit', 1.00, 1.00, upd.amount, '', now() FROM op, upd;
      END LOOP; END $$;"""
    sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-v", "ON_ERROR_STOP=1", "-c", sql)
    print(f"verify-cost: {args.new} new entries made after the checkpoints", flush=True)
    quick, quick_out = timed("ledger_verify", PYTHON, "manage.py", "ledger_verify", env=env)
    full, full_out = timed("ledger_verify --full", PYTHON, "manage.py", "ledger_verify", "--full", env=env)
    ok = "OK" in quick_out and "OK" in full_out
    checked = re.search(r"(\d+) entries checked", quick_out)
    print(f"\nverify-cost: {args.entries} historical entries; from the checkpoints {quick:.1f} s "
          f"({checked.group(1) if checked else '?'} entries read), full {full:.1f} s; "
          f"{'both OK' if ok else 'NOT OK'}")
    if not args.keep:
        sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB, check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
