"""What every app needs to know about its database connection: which failures mean "retry
shortly", where a write must commit on its own, and how a batch job lifts the statement limit.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.db import InterfaceError, OperationalError, ProgrammingError, connection, transaction


def transient_failure(exc: BaseException) -> str | None:
    """What went wrong, when `exc` means "nothing was done; retry shortly", else None:
    "lock timeout" (lock_timeout passed while waiting for a row), "statement timeout", or
    "database unavailable" (unreachable, restarting, the connection broken), or "prepared
    statement lost" (see DATABASE_SERVER_PREPARES)."""
    cause = exc.__cause__
    if isinstance(exc, ProgrammingError) and isinstance(
            cause, (psycopg.errors.InvalidSqlStatementName, psycopg.errors.DuplicatePreparedStatement)):
        # The server connection does not hold what this client prepared: a transaction-mode
        # pooler switched it (set DATABASE_SERVER_PREPARES=false there). Refused before it ran.
        return "prepared statement lost"
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    if isinstance(cause, psycopg.errors.LockNotAvailable):
        return "lock timeout"
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return "statement timeout"
    return "database unavailable"


def ensure_durable(what: str) -> None:
    """Refuse to run `what` inside a caller's transaction — Django's `atomic(durable=True)` rule,
    for a write that is its own transaction (one statement in autocommit) and so opens none.

    A surrounding transaction would keep the rows it locks (a balance) locked until the caller
    commits, however long the caller takes. The test runner's own wrapping transaction is
    allowed, as Django allows it for durable blocks.
    """
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError(f"{what} commits on its own and must not run inside another transaction.")


@contextmanager
def unbounded_statements():
    """Lift DATABASE_STATEMENT_TIMEOUT while a batch job (a full ledger check, an export) reads
    what it must; the lock timeout stays.

    The block is one transaction (a savepoint inside a caller's) and the limit is lifted with
    SET LOCAL, so it holds on the server connection that runs the block and on no other: behind a
    transaction-mode pooler a session-level SET would land on whichever server connection ran it
    and stay there for the next client. Inside a caller's transaction the limit in force before is
    put back when the block ends."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            before = cursor.fetchone()[0]
            cursor.execute("SET LOCAL statement_timeout = 0")
        yield
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
