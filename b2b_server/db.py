"""What every app needs to know about its database connection: which failures mean "retry
shortly", where a write must commit on its own, and how a batch job lifts the statement limit.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
from django.db import InterfaceError, OperationalError, connection


def transient_failure(exc: BaseException) -> str | None:
    """What went wrong, when `exc` means "nothing was done; retry shortly", else None:
    "lock timeout" (lock_timeout passed while waiting for a row), "statement timeout", or
    "database unavailable" (unreachable, restarting, the connection broken)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    cause = exc.__cause__
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
    """Lift DATABASE_STATEMENT_TIMEOUT for this connection while a batch job (a full ledger
    check, an export) reads what it must; the lock timeout stays."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
