"""The database as production runs it: two roles (bin/db-roles), migrations as the owner with a
short lock timeout, serving as a role that cannot rewrite history or the schema, bounded waits on
every serving connection, and the app behind a real PgBouncer in transaction mode."""

from __future__ import annotations

import re
import shutil
import threading
import time
from decimal import Decimal

import psycopg
import pytest

from tests.ops_support import Drive, OpsDatabase, applied, common, drive, free_port, pgbouncer, superuser

pytestmark = pytest.mark.skipif(not shutil.which("createdb") or not shutil.which("psql"),
                                reason="needs PostgreSQL's client programs (createdb, psql)")

BALANCES = 20
OPENING = Decimal(1_000_000_000)
SHOW_TIMEOUTS = ("from django.db import connection\n"
                 "with connection.cursor() as c:\n"
                 "    for name in ('lock_timeout', 'statement_timeout', 'idle_in_transaction_session_timeout'):\n"
                 "        c.execute('SHOW ' + name); print(name, c.fetchone()[0])\n")


@pytest.fixture(scope="module")
def ops_db(tmp_path_factory):
    db = OpsDatabase(name="b2b_ops_roles", owner="b2b_ops_owner", server="b2b_ops_app",
                     work=tmp_path_factory.mktemp("ops-db"), balances=BALANCES)
    db.create()
    yield db
    db.drop()


def connect(db: OpsDatabase, role: str, port: str | int | None = None, **kw) -> psycopg.Connection:
    su = superuser()
    return psycopg.connect(host=su["host"], port=port or su["port"], user=role, dbname=db.name, autocommit=True, **kw)


def shown_timeouts(output: str) -> dict[str, str]:
    names = ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
    return dict(line.split(" ", 1) for line in output.splitlines() if line.startswith(names))


def test_the_owner_owns_every_table_and_the_server_role_may_only_read_and_write_rows(ops_db):
    with connect(ops_db, "postgres") as su:
        owners = {row[0] for row in su.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        grants = dict(su.execute(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
            "FROM information_schema.role_table_grants WHERE grantee = %s GROUP BY 1", [ops_db.server]).fetchall())
    assert owners == {ops_db.owner}
    for table in ("balances_ledgerentry", "balances_operation", "balances_checkpoint", "balances_checkpointrun",
                  "audit_auditevent"):
        assert grants[table] == "INSERT,SELECT", table
    assert grants["balances_balance"] == "INSERT,SELECT,UPDATE"
    assert grants["django_migrations"] == "SELECT"
    assert not any("TRUNCATE" in g or "REFERENCES" in g or "TRIGGER" in g for g in grants.values())


FORBIDDEN = [
    "TRUNCATE balances_ledgerentry",
    "TRUNCATE balances_operation CASCADE",
    "TRUNCATE audit_auditevent",
    "DELETE FROM balances_ledgerentry",
    "UPDATE balances_ledgerentry SET comment = 'rewritten'",
    "UPDATE balances_operation SET amount = 0",
    "DELETE FROM balances_operation",
    "DELETE FROM balances_balance",
    "UPDATE audit_auditevent SET actor = 'nobody'",
    "ALTER TABLE balances_ledgerentry DISABLE TRIGGER ALL",
    "ALTER TABLE balances_ledgerentry DISABLE TRIGGER balances_ledgerentry_append_only",
    "ALTER TABLE balances_operation DISABLE TRIGGER USER",
    "DROP TRIGGER balances_ledgerentry_append_only ON balances_ledgerentry",
    "CREATE OR REPLACE FUNCTION balances_append_only() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$",
    "CREATE TABLE b2b_ops_scratch (id int)",
    "ALTER TABLE balances_balance DROP CONSTRAINT IF EXISTS balances_balance_amount_non_negative",
    "DROP TABLE balances_ledgerentry",
    "CREATE SCHEMA b2b_ops_scratch",
]


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_server_role_cannot_rewrite_history_or_change_the_schema(ops_db, statement):
    with connect(ops_db, ops_db.server) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_owner_could_disable_the_triggers_which_is_why_it_does_not_serve(ops_db):
    # The control: the same statement as the owner goes through (rolled back here).
    with connect(ops_db, ops_db.owner) as conn, conn.transaction(force_rollback=True):
        conn.execute("ALTER TABLE balances_ledgerentry DISABLE TRIGGER balances_ledgerentry_append_only")


def test_serving_as_the_server_role_moves_money_and_the_batch_commands_run(ops_db):
    env = ops_db.env(port=free_port(), REDIS_URL="redis://127.0.0.1:6379/13")
    server = common.serve(env, ops_db.work / "server.log")
    try:
        before = ops_db.amounts()
        result = drive(f"http://127.0.0.1:{env['GRANIAN_PORT']}", ops_db.token, balances=BALANCES, threads=4,
                       per_thread=15)
    finally:
        common.stop(server)
    assert result.answers == {201: 60} and not result.failed and set(result.seen) == {201}
    assert set(applied(ops_db).values()) == {1} and len(applied(ops_db)) == 60
    after = ops_db.amounts()
    assert {b: after[b] - before[b] for b in after} == result.expected(Decimal(0), BALANCES)
    # What beat and the operators run, as the serving role.
    assert "OK" in ops_db.manage("ledger_verify").stdout
    assert "OK" in ops_db.manage("ledger_verify", "--full").stdout
    ops_db.manage("ledger_checkpoint")
    ops_db.manage("pii_retention")


def test_every_serving_connection_bounds_its_waits_and_a_migration_waits_briefly(ops_db):
    served = shown_timeouts(ops_db.manage("shell", "-c", SHOW_TIMEOUTS).stdout)
    assert served == {"lock_timeout": "5s", "statement_timeout": "30s", "idle_in_transaction_session_timeout": "1min"}
    tuned = shown_timeouts(ops_db.manage("shell", "-c", SHOW_TIMEOUTS, env=ops_db.env(
        DATABASE_LOCK_TIMEOUT="1.5", DATABASE_STATEMENT_TIMEOUT="12", DATABASE_IDLE_IN_TRANSACTION_TIMEOUT="7")).stdout)
    assert tuned == {"lock_timeout": "1500ms", "statement_timeout": "12s", "idle_in_transaction_session_timeout": "7s"}
    # Without the app's start-up options (as behind PgBouncer), the role's own defaults hold.
    with connect(ops_db, ops_db.server) as conn:
        bare = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")}
    assert bare == served


def test_a_migration_that_cannot_get_its_lock_gives_up_within_the_migrate_lock_timeout(ops_db):
    """A writer in flight holds ROW EXCLUSIVE on a table; reversing the migration that made it
    needs ACCESS EXCLUSIVE there. It must fail after DATABASE_MIGRATE_LOCK_TIMEOUT (not queue every
    later writer behind its lock request for as long as the transaction lasts), and change nothing.
    (The ledger's own last migration, balances 0012, cannot be reversed at all.)"""
    def table_present():
        with connect(ops_db, "postgres") as su:
            return su.execute("SELECT to_regclass('reconciliation_break') IS NOT NULL").fetchone()[0]

    holder = connect(ops_db, ops_db.server)
    try:
        holder.autocommit = False
        holder.execute("LOCK TABLE reconciliation_break IN ROW EXCLUSIVE MODE")
        started = time.monotonic()
        result = ops_db.manage("migrate", "reconciliation", "zero",
                               env=ops_db.env(DATABASE_MIGRATE_LOCK_TIMEOUT="1"), check=False)
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode != 0
    assert "lock timeout" in (result.stdout + result.stderr)
    assert waited < 15
    assert table_present()
    assert "[X] 0001_initial" in ops_db.manage("showmigrations", "reconciliation").stdout
    reversing = ops_db.manage("migrate", "balances", "0011", check=False)
    assert reversing.returncode != 0 and "cannot be undone by a migration" in reversing.stderr


def test_migrate_url_must_name_the_same_database(ops_db):
    result = ops_db.manage("check", env=ops_db.env(DATABASE_MIGRATE_URL=ops_db.url(ops_db.owner).replace(
        ops_db.name, "b2b_ops_elsewhere")), check=False)
    assert result.returncode != 0 and "DATABASE_MIGRATE_URL must name the same database" in result.stderr


needs_pgbouncer = pytest.mark.skipif(not pgbouncer.available(), reason="needs Debian's pgbouncer")


@pytest.fixture
def bouncer(ops_db):
    port = free_port()
    process = pgbouncer.start(port=port, server_port=int(superuser()["port"]),
                              users=(ops_db.server, ops_db.owner, "postgres"), pool_size=3)
    yield port
    pgbouncer.stop(process)


@needs_pgbouncer
def test_server_side_prepares_break_behind_pgbouncer_in_transaction_mode(ops_db, bouncer):
    """The hazard the setting avoids, seen for real: a statement prepared on one server connection
    is missing (or already there) on the next one the pooler hands out."""
    errors = []

    def client():
        with connect(ops_db, ops_db.server, port=bouncer, prepare_threshold=5) as conn:
            try:
                for i in range(100):
                    conn.execute("SELECT amount FROM balances_balance WHERE id = %s", [1 + i % 5], prepare=True)
            except psycopg.Error as exc:
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors and set(errors) <= {"DuplicatePreparedStatement", "InvalidSqlStatementName"}



@needs_pgbouncer
def test_with_prepares_left_on_behind_pgbouncer_a_lost_statement_is_a_503_and_applies_nothing(ops_db, bouncer):
    """The misconfiguration itself: a debit bound to its statement's name can find another
    client's credit statement under that name (same parameters, same places). The ledger's
    statements guard against it: such a call writes nothing and is answered 503."""
    env = ops_db.env(port=free_port(), database_url=ops_db.url(ops_db.server, port=bouncer),
                     DATABASE_SERVER_PREPARES="true", REDIS_URL="redis://127.0.0.1:6379/13")
    before = ops_db.amounts()
    server = common.serve(env, ops_db.work / "server-misconfigured.log")
    try:
        result = drive(f"http://127.0.0.1:{env['GRANIAN_PORT']}", ops_db.token, balances=5, threads=6,
                       per_thread=15, attempts=1)
    finally:
        common.stop(server)
    assert result.seen[503] > 0 and set(result.seen) <= {201, 503}, result.seen  # never a 500
    counts = applied(ops_db)
    answered = {rid for rid in result.sent if rid not in result.failed}
    assert all(counts[rid] == 1 for rid in answered) and not any(counts[rid] for rid in result.failed)
    after = ops_db.amounts()
    delivered = {rid: sent for rid, sent in result.sent.items() if rid in answered}
    assert {b: after[b] - before[b] for b in after} == Drive(sent=delivered).expected(Decimal(0), BALANCES)
    assert "prepared statement lost" in (ops_db.work / "server-misconfigured.log").read_text()
    assert "OK" in ops_db.manage("ledger_verify").stdout

@needs_pgbouncer
def test_behind_pgbouncer_in_transaction_mode_every_debit_and_credit_applies_exactly_once(ops_db, bouncer):
    via_pool = ops_db.url(ops_db.server, port=bouncer)
    env = ops_db.env(port=free_port(), database_url=via_pool, DATABASE_SERVER_PREPARES="false",
                     DATABASE_SERVER_SIDE_CURSORS="false", REDIS_URL="redis://127.0.0.1:6379/13")
    # The app's start-up options are dropped by the pooler: the waits come from the role.
    assert shown_timeouts(ops_db.manage("shell", "-c", SHOW_TIMEOUTS, env=env).stdout) == {
        "lock_timeout": "5s", "statement_timeout": "30s", "idle_in_transaction_session_timeout": "1min"}
    before = ops_db.amounts()
    server = common.serve(env, ops_db.work / "server-pgbouncer.log")
    try:
        result = drive(f"http://127.0.0.1:{env['GRANIAN_PORT']}", ops_db.token, balances=5, threads=8,
                       per_thread=40)
    finally:
        common.stop(server)
    log = (ops_db.work / "server-pgbouncer.log").read_text()
    assert result.answers == {201: 320} and not result.failed and result.retries == 0, (result.seen, log[-2000:])
    assert set(result.seen) == {201}
    counts = applied(ops_db)
    assert all(counts[rid] == 1 for rid in result.sent)
    after = ops_db.amounts()
    assert {b: after[b] - before[b] for b in after} == result.expected(Decimal(0), BALANCES)
    assert not re.search(r"prepared statement|Traceback", log)
    # Batch commands through the pooler too: the statement limit is lifted with SET LOCAL only.
    assert "OK" in ops_db.manage("ledger_verify", "--full", env=env).stdout
    with connect(ops_db, ops_db.server, port=bouncer) as conn:
        leaked = {conn.execute("SHOW statement_timeout").fetchone()[0] for _ in range(12)}
    assert leaked == {"30s"}

