"""Monthly partitions of the ledger on PostgreSQL: made ahead, converted to without a long lock,
detached for the archive.

Operations and entries are partitioned by RANGE of `created_at`, one partition per calendar month
(UTC), named `<table>_YYYY_MM`, plus a DEFAULT partition that stays empty as long as months are
made ahead (`ledger_partitions`, daily under beat; B2B_LEDGER_PARTITIONS_AHEAD months). A ledger
that existed before partitioning keeps its table as one partition, `<table>_before_YYYY_MM`,
holding everything before that month.

The conversion (`convert`, migration 0012) never holds a lock long, whatever the ledger's size:
1. the foreign keys that point at operations or entries are dropped (a partitioned table's keys
   must include the month; balances.services keeps those links, `ledger_verify` checks them);
2. a CHECK (created_at < B) is added NOT VALID and then VALIDATEd — a scan that blocks no writes —
   B being a month start at least two days ahead;
3. the indexes the partitioned table will want are built CONCURRENTLY on the old table;
4. one short transaction (lock_timeout, retried) takes both tables, renames the old ones, makes
   the partitioned ones and attaches the old tables as their first partitions: the CHECK proves
   the bound and the indexes match, so nothing is scanned or built under the lock.
Each step is idempotent: a rerun after an interruption completes the conversion.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

OPERATION = "balances_operation"
ENTRY = "balances_ledgerentry"
TABLES = (OPERATION, ENTRY)  # the order writers lock them in

# The indexes of each partitioned table besides its primary key (id, created_at): built on the old
# table first, under these names, so that attaching it finds them.
INDEXES = {
    OPERATION: {
        "operation_holds": "(balance_id) WHERE kind::text = 'hold'::text",
        "operation_reversals": "(reversal_of_id) WHERE reversal_of_id IS NOT NULL",
    },
    ENTRY: {
        "balances_le_balance_a29e8a_idx": "(balance_id, id)",
        "balances_ledgerentry_created_by_id_6ddba32e": "(created_by_id)",
        "entry_operation": "(operation_id)",
    },
}
# What the old tables had that a partitioned table cannot (unique without the month), and the
# triggers that move to the partitioned table (balances 0002, 0010, 0011).
OLD_UNIQUE = {OPERATION: ("operation_request_id_unique", "operation_reversed_once"),
              ENTRY: ("balances_ledgerentry_operation_id_key",)}
TRIGGERS = {
    OPERATION: [
        ("balances_operation_append_only", "BEFORE UPDATE OR DELETE", "", "balances_append_only()"),
        ("balances_operation_reversal", "AFTER INSERT", "WHEN (NEW.reversal_of_id IS NOT NULL)",
         "balances_operation_reversal()"),
    ],
    ENTRY: [
        ("balances_ledgerentry_append_only", "BEFORE UPDATE OR DELETE", "", "balances_append_only()"),
        ("balances_ledgerentry_event", "AFTER INSERT", "", "balances_entry_event()"),
    ],
}
OLD_ONLY_TRIGGERS = {OPERATION: ("balances_operation_claim",), ENTRY: ()}

LOCK_TIMEOUT_MS = 300
LOCK_ATTEMPTS = 200


def month_start(moment: dt.datetime | dt.date) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)


def add_months(start: dt.datetime, months: int) -> dt.datetime:
    index = start.year * 12 + start.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


def partition_name(table: str, start: dt.datetime) -> str:
    return f"{table}_{start:%Y_%m}"


@dataclass(frozen=True)
class Partition:
    table: str  # the partitioned table
    name: str
    starts: dt.datetime | None  # None: MINVALUE
    ends: dt.datetime | None  # None: the DEFAULT partition
    rows: int  # the planner's estimate (pg_class.reltuples), -1 when never analysed

    @property
    def default(self) -> bool:
        return self.ends is None


_BOUND = re.compile(r"FOR VALUES FROM \((?:MINVALUE|'([^']+)')\) TO \('([^']+)'\)")


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def is_partitioned(cursor, table: str = ENTRY) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions(cursor, table: str) -> list[Partition]:
    """The partitions of `table`, oldest first, the DEFAULT one last."""
    cursor.execute("""
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass(%s)""", [table])
    found = []
    for name, bound, rows in cursor.fetchall():
        if bound == "DEFAULT":
            found.append(Partition(table, name, None, None, rows))
            continue
        match = _BOUND.match(bound)
        starts = _when(match.group(1)) if match.group(1) else None
        found.append(Partition(table, name, starts, _when(match.group(2)), rows))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(found, key=lambda p: (p.ends or far, p.name))


def _lock_settings(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")


# The tables the ledger's foreign keys join, in the order writers take them: a staff request's
# session reads the user, a movement the balance, then it writes the operation and the entry.
LOCK_ORDER = ("auth_user", "balances_balance", *TABLES)


def lock_ledger(cursor) -> None:
    """Take the ledger's tables, and those its foreign keys reference, in the order its writers
    take them, before any change of the schema: making, attaching or dropping a partition adds or
    drops foreign-key triggers on the referenced tables, which takes them ACCESS EXCLUSIVE, and
    taken in another order that deadlocks with a debit halfway through its statement."""
    cursor.execute(f"LOCK TABLE {', '.join(LOCK_ORDER)} IN ACCESS EXCLUSIVE MODE")


def with_short_locks(connection, work, *, what: str) -> float:
    """Run `work(cursor)` in its own transaction that waits at most LOCK_TIMEOUT_MS for a lock,
    retried while it cannot have one: writers queue behind a waiting lock, so it must not wait
    long. Returns how long the successful attempt held the transaction open (seconds)."""
    from django.db import OperationalError, transaction

    for attempt in range(1, LOCK_ATTEMPTS + 1):
        started = time.monotonic()
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                _lock_settings(cursor)
                work(cursor)
            return time.monotonic() - started
        except OperationalError as error:
            if "lock timeout" not in str(error) or attempt == LOCK_ATTEMPTS:
                raise
            log.warning("%s: lock not granted within %d ms (attempt %d), retrying", what, LOCK_TIMEOUT_MS, attempt)
            time.sleep(min(0.1 * attempt, 2.0))
    raise AssertionError("unreachable")


def _month_names(table: str, start: dt.datetime, ahead: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    months = []
    for offset in range(ahead + 1):
        starts = add_months(start, offset)
        months.append((partition_name(table, starts), starts, add_months(starts, 1)))
    return months


def _create_month_sql(table: str, name: str, starts: dt.datetime, ends: dt.datetime) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
            f"FOR VALUES FROM ('{starts.isoformat()}') TO ('{ends.isoformat()}')")


def ensure_months(connection, *, ahead: int, now: dt.datetime | None = None,
                  since: dt.datetime | None = None) -> list[str]:
    """Make the month partitions from `since` (default: this month) to `ahead` months after this
    one that do not exist yet; returns their names. Attaching a month scans the DEFAULT partition
    for its rows, which is empty while months are made ahead."""
    now = now or dt.datetime.now(dt.UTC)
    first = month_start(since or now)
    last = add_months(month_start(now), ahead)
    made = []
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return made
        for table in TABLES:
            existing = partitions(cursor, table)
            for offset in range(10_000):
                starts = add_months(first, offset)
                if starts > last:
                    break
                ends = add_months(starts, 1)
                # A month overlapping any bounded partition (one from MINVALUE included) exists already.
                if any(not p.default and (p.starts is None or p.starts < ends) and starts < p.ends for p in existing):
                    continue
                name = partition_name(table, starts)
                with_short_locks(connection, lambda c, t=table, n=name, s=starts, e=ends:
                                 (lock_ledger(c), c.execute(_create_month_sql(t, n, s, e))), what=f"making {name}")
                made.append(name)
    return made


# --- the conversion ------------------------------------------------------------------------------

def _bound_ahead(now: dt.datetime) -> dt.datetime:
    """The first month start at least two days ahead: the CHECK (created_at < bound) holds for
    every row written until the swap, which happens well before then."""
    bound = add_months(month_start(now), 1)
    return bound if bound - now >= dt.timedelta(days=2) else add_months(bound, 1)


def _check_name(table: str) -> str:
    return f"{table}_before_partitions"


def _existing_bound(cursor, table: str) -> dt.datetime | None:
    cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                   "AND conname = %s", [table, _check_name(table)])
    row = cursor.fetchone()
    if row is None:
        return None
    return _when(re.search(r"'([^']+)'", row[0]).group(1))


def _drop_foreign_keys(connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("""SELECT conrelid::regclass::text, conname FROM pg_constraint
                          WHERE contype = 'f' AND confrelid IN (to_regclass(%s), to_regclass(%s))""", list(TABLES))
        keys = cursor.fetchall()
    for table, name in keys:
        with_short_locks(connection, lambda c, t=table, n=name: (
            lock_ledger(c), c.execute(f'ALTER TABLE {t} DROP CONSTRAINT "{n}"')), what=f"dropping {name}")


def _prove_bound(connection, table: str, now: dt.datetime) -> dt.datetime:
    with connection.cursor() as cursor:
        bound = _existing_bound(cursor, table)
    if bound is not None and bound - now < dt.timedelta(days=1):
        # Left behind by an interrupted conversion, and about to refuse new rows: start again.
        with_short_locks(connection, lambda c: (
            lock_ledger(c), c.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_check_name(table)}")),
            what=f"dropping {_check_name(table)}")
        bound = None
    if bound is None:
        bound = _bound_ahead(now)
        with_short_locks(connection, lambda c: (lock_ledger(c), c.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {_check_name(table)} "
            f"CHECK (created_at < '{bound.isoformat()}') NOT VALID")), what=f"adding {_check_name(table)}")
    with _unbounded(connection) as cursor:
        # SHARE UPDATE EXCLUSIVE: reads the whole table while writes go on.
        cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {_check_name(table)}")
    return bound


@contextmanager
def _unbounded(connection):
    """A cursor without the statement timeout, for the long reads that take no blocking lock (a
    VALIDATE, a CONCURRENTLY build: neither can run in a transaction block, so not SET LOCAL);
    the session's own limit comes back afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        try:
            yield cursor
        finally:
            cursor.execute("RESET statement_timeout")


def _build_indexes(connection, table: str) -> None:
    wanted = {f"{table}_month_key": "UNIQUE", **dict.fromkeys(INDEXES[table], "")}
    with _unbounded(connection) as cursor:
        for name, unique in wanted.items():
            columns = "(id, created_at)" if name == f"{table}_month_key" else INDEXES[table][name]
            # An interrupted CONCURRENTLY build leaves an invalid index: drop it and build again.
            cursor.execute("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", [name])
            row = cursor.fetchone()
            if row is not None and not row[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY {name}")
            cursor.execute(f"CREATE {unique} INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} {columns}")


def _definitions(cursor, table: str, kinds: str) -> list[tuple[str, str]]:
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                   "AND contype = ANY(%s) AND conname <> %s ORDER BY conname", [table, list(kinds), _check_name(table)])
    return cursor.fetchall()


def _swap_table(cursor, table: str, bound: dt.datetime, ahead: int, now: dt.datetime) -> str | None:
    """Under the lock: `table` becomes partitioned. Returns the old table's partition name, or None
    when it was empty and dropped instead."""
    cursor.execute(f"SELECT EXISTS (SELECT FROM {table})")
    empty = not cursor.fetchone()[0]
    old = f"{table}_before_{bound:%Y_%m}"
    checks = _definitions(cursor, table, "c")
    foreign = _definitions(cursor, table, "f")
    cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    (identity,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {identity}")
    last_value, called = cursor.fetchone()
    next_id = last_value + 1 if called else last_value

    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, *_ in TRIGGERS[table]:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {old}")
    for name in OLD_ONLY_TRIGGERS[table]:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {old}")
    for name in OLD_UNIQUE[table]:
        cursor.execute(f"ALTER TABLE {old} DROP CONSTRAINT IF EXISTS {name}")
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
    cursor.execute(f"ALTER TABLE {old} DROP CONSTRAINT {table}_pkey")
    cursor.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP IDENTITY")
    cursor.execute(f"ALTER TABLE {old} ADD CONSTRAINT {old}_pkey PRIMARY KEY USING INDEX {table}_month_key")
    for name in INDEXES[table]:
        cursor.execute(f"ALTER INDEX {name} RENAME TO {old}_{_short(name)}")

    cursor.execute(f"CREATE SEQUENCE {table}_id_seq AS bigint START WITH {next_id}")
    cursor.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)")
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    cursor.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, created_at)")
    for name, definition in checks + foreign:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, columns in INDEXES[table].items():
        cursor.execute(f"CREATE INDEX {name} ON {table} {columns}")

    if empty:
        cursor.execute(f"DROP TABLE {old}")
        first = month_start(now)
        attached = None
    else:
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {old} "
                       f"FOR VALUES FROM (MINVALUE) TO ('{bound.isoformat()}')")
        first = bound
        attached = old
    for name, starts, ends in _month_names(table, first, max(ahead - (0 if empty else 1), 0)):
        cursor.execute(_create_month_sql(table, name, starts, ends))
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    for name, when, condition, function in TRIGGERS[table]:
        cursor.execute(f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW {condition} EXECUTE FUNCTION {function}")
    return attached


def _short(index: str) -> str:
    return index.replace("balances_", "")[:30]


def convert(connection, *, ahead: int, now: dt.datetime | None = None) -> dict[str, float | str | None]:
    """Partition operations and entries by month (idempotent; see the module's docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        if is_partitioned(cursor, OPERATION) and is_partitioned(cursor, ENTRY):
            return {"swap_seconds": 0.0, "converted": None}
    _drop_foreign_keys(connection)
    bounds = {}
    for table in TABLES:
        bounds[table] = _prove_bound(connection, table, now)
        _build_indexes(connection, table)
    attached = {}

    def swap(cursor):
        lock_ledger(cursor)
        for table in TABLES:
            if not is_partitioned(cursor, table):
                attached[table] = _swap_table(cursor, table, bounds[table], ahead, now)

    held = with_short_locks(connection, swap, what="partitioning the ledger")
    log.info("ledger partitioned by month (%s); the swap held its locks %.0f ms",
             ", ".join(f"{v} attached" for v in attached.values() if v) or "empty tables replaced", held * 1000)
    ensure_months(connection, ahead=ahead, now=now)
    return {"swap_seconds": held, "converted": ", ".join(str(v) for v in attached.values())}
