"""Partitioning a loaded ledger by month while Quadcode trades on it (balances 0012): no request
waits on a lock, none is lost or applied twice, and the ledger verifies afterwards.

The database is migrated to 0011 (the claims table; what the release before this one ran on
after its first step), loaded with history, then served by the real server while `migrate`
converts it. PARTITION_LIVE_ENTRIES sets the history's size (default 200,000 entries)."""

from __future__ import annotations

import os
import re
import threading
import time
from decimal import Decimal

import pytest

from tests.ops_support import OpsDatabase, applied, common, drive, psql, psql_env

BALANCES = 40
ENTRIES = int(os.environ.get("PARTITION_LIVE_ENTRIES", "200000"))
OPENING = Decimal(1_000_000_000)


def migrate_before_partitions(db: OpsDatabase) -> None:
    """Every app migrated, the ledger only up to 0011."""
    db.manage("migrate", "backoffice", "0003", "-v0")
    db.manage("migrate", "balances", "0011", "-v0")
    plan = db.manage("showmigrations", "--list").stdout
    apps = [line.strip() for line in plan.splitlines() if line and not line.startswith(" ")]
    for app in apps:
        if app not in ("balances", "backoffice"):
            db.manage("migrate", app, "-v0")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    import subprocess

    db = OpsDatabase(name="b2b_ops_partition", owner="b2b_part_owner", server="b2b_part_app",
                     work=tmp_path_factory.mktemp("partition"), balances=BALANCES)
    db.drop()
    subprocess.run(["createdb", db.name], env=psql_env(), check=True, capture_output=True)
    db.manage("sandbox_keys", str(db.work), env={**db.env(), "QUADCODE_PUBLIC_KEY_FILES": ""})
    db.db_roles()
    migrate_before_partitions(db)
    db.db_roles()
    os.environ.setdefault("PGPORT", "5432")
    common.populate(db.name, BALANCES)
    common.load_history(db.name, ENTRIES, BALANCES)
    db.token = common.mint_token(db.work, db.env())
    yield db
    db.drop()


def relkind(db, table):
    return psql(db.name, f"SELECT relkind FROM pg_class WHERE oid = to_regclass('{table}')").strip()


def test_partitioning_a_loaded_ledger_while_it_trades(loaded):
    db = loaded
    assert relkind(db, "balances_ledgerentry") == "r"
    history = int(psql(db.name, "SELECT count(*) FROM balances_ledgerentry"))
    assert history >= ENTRIES
    # Served as in production, but any request that waits 2 s for a lock is refused (503, retried).
    env = db.env(DATABASE_LOCK_TIMEOUT="2")
    server = common.serve(env, db.work / "serve.log")
    stop = threading.Event()
    results = {}
    try:
        base = f"http://127.0.0.1:{env['GRANIAN_PORT']}"
        trading = threading.Thread(target=lambda: results.update(
            drive=drive(base, db.token, balances=BALANCES, threads=6, until=stop)))
        trading.start()
        time.sleep(2)
        started = time.monotonic()
        migrated = db.manage("migrate", "-v1")
        took = time.monotonic() - started
        time.sleep(2)
        stop.set()
        trading.join()
    finally:
        common.stop(server)
    traded = results["drive"]
    latencies = sorted(traded.latencies)
    print(f"\npartitioned {history} entries in {took:.1f} s under {len(latencies)} trades: "
          f"slowest answer {latencies[-1] * 1000:.0f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; "
          f"answers {dict(traded.seen)}")
    assert "Applying balances.0012_monthly_partitions... OK" in migrated.stdout
    assert relkind(db, "balances_ledgerentry") == relkind(db, "balances_operation") == "p"
    # Trading went on throughout: every request answered 201 in the end, none waited out a lock.
    assert not traded.failed and set(traded.answers) == {201}
    assert 503 not in traded.seen, traded.seen
    assert len(latencies) > 100
    # Nothing lost, nothing twice: each request_id applied once, every balance where the calls say.
    counts = applied(db)
    assert set(counts) == set(traded.sent) and set(counts.values()) == {1}
    assert db.amounts() == traded.expected(OPENING, BALANCES)
    # The old table is the first partition, the new months hold what came after.
    parts = psql(db.name, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                          "WHERE i.inhparent = 'balances_ledgerentry'::regclass").split()
    assert any(re.fullmatch(r"balances_ledgerentry_before_\d{4}_\d{2}", p) for p in parts), parts
    assert "balances_ledgerentry_default" in parts
    before = next(p for p in parts if "_before_" in p)
    assert int(psql(db.name, f"SELECT count(*) FROM {before}")) >= history
    assert int(psql(db.name, "SELECT count(*) FROM balances_requestid")) == \
        int(psql(db.name, "SELECT count(*) FROM balances_operation"))
    # The server role may still only read and append the ledger, in each partition too.
    verify = db.manage("ledger_verify", "--full", env=db.env())
    assert "OK" in verify.stdout, verify.stdout + verify.stderr
    partitions = db.manage("ledger_partitions", "--check", env=db.env())
    assert "default partition rows 0" in partitions.stdout
