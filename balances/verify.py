"""Proving the ledger agrees with itself (`manage.py ledger_verify [--full]`, nightly under beat).

From the latest checkpoints (the default) it checks only what came after them, plus the chain
of checkpoints itself, so its cost grows with new entries, not with history:
1. each balance's stored amount equals its last checkpoint's closing amount plus the signed sum
   of the entries after it (an entry committed late behind a checkpoint shows up here too);
2. each entry's balance_after equals the running sum up to it;
3. each entry repeats its operation (kind, balance, amount, month), which exists, and no
   operation has two entries;
4. every operation without an entry is a declined outgoing one, and every operation holds the
   claim of its request_id;
5. every release or reversal undoes, on the same balance, exactly what its linked operation
   moved, and is of a kind that may undo it;
6. every checkpoint names the hash of the one before it, and its closing amount is its last
   entry's balance_after.
`full=True` checks 1-5 over the whole history and recomputes every checkpoint's hash from the
entries, so an old entry rewritten or deleted behind the triggers' back is found. Once months are
archived (balances.archive) the whole history means everything after them: the full check starts
from the checkpoints of the newest archive's last day, whose hashes `ledger_archive_verify`
recomputes from the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from django.db import connection
from django.utils import timezone

from b2b_server.db import unbounded_statements
from balances.checkpoints import ENTRY_FIELDS, GENESIS, chain_hash
from balances.models import (
    OUTGOING,
    REVERSES,
    Balance,
    Checkpoint,
    CheckpointRun,
    LedgerArchive,
    LedgerEntry,
    Operation,
    RequestId,
    VerifyRun,
)


@dataclass(frozen=True)
class LedgerMismatch:
    balance_id: str
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    problems: list[LedgerMismatch]
    full: bool
    balances: int
    entries_checked: int  # the entries the checks read (all of them with full=True)


def _queries(full: bool, horizon: str | None) -> dict[str, str]:
    balance, entry, operation = Balance._meta.db_table, LedgerEntry._meta.db_table, Operation._meta.db_table
    checkpoint, claim = Checkpoint._meta.db_table, RequestId._meta.db_table

    def month(column: str) -> str:
        if connection.vendor == "postgresql":
            return f"date_trunc('month', {column} AT TIME ZONE 'UTC')"
        return f"strftime('%%Y-%%m', {column})"
    outgoing = ", ".join(f"'{kind.value}'" for kind in sorted(OUTGOING))
    pairs = ", ".join(f"('{kind.value}', '{undone.value}')" for kind, undoes in REVERSES.items()
                      for undone in sorted(undoes))
    signed = f"CASE WHEN e.kind IN ({outgoing}) THEN -e.realized_amount ELSE e.realized_amount END"
    # The latest checkpoint of each balance (none at all for a full check: it starts from zero;
    # with months archived, from the latest up to the newest archive's last day, `horizon`).
    if full:
        cap = "1 = 0" if horizon is None else f"c2.day <= '{horizon}'"
    else:
        cap = "1 = 1"
    latest = f"""cp AS (SELECT c.balance_id, c.closing_amount, c.last_entry_id, c.hash FROM {checkpoint} c
                        WHERE c.day = (SELECT MAX(c2.day) FROM {checkpoint} c2
                                       WHERE c2.balance_id = c.balance_id AND {cap}))"""
    # Checkpoints whose last entry is still in the live database.
    live = "1 = 1" if horizon is None else f"c.day > '{horizon}'"
    queries = {
        "stored amount {0} != last checkpoint plus the sum of entries after it {1}": f"""
            WITH {latest}
            SELECT b.balance_id, b.amount, COALESCE(MAX(cp.closing_amount), 0) + COALESCE(SUM({signed}), 0)
            FROM {balance} b LEFT JOIN cp ON cp.balance_id = b.id
            LEFT JOIN {entry} e ON e.balance_id = b.id AND e.id > %(entry_floor)s
            GROUP BY b.id, b.balance_id, b.amount
            HAVING b.amount <> COALESCE(MAX(cp.closing_amount), 0) + COALESCE(SUM({signed}), 0)""",
        "entry {0}: balance_after {1} != running sum {2}": f"""
            WITH {latest}
            SELECT balance_id, id, balance_after, running FROM (
                SELECT b.balance_id, e.id, e.balance_after,
                       COALESCE(cp.closing_amount, 0)
                       + SUM({signed}) OVER (PARTITION BY e.balance_id ORDER BY e.id) AS running
                FROM {entry} e JOIN {balance} b ON b.id = e.balance_id LEFT JOIN cp ON cp.balance_id = e.balance_id
                WHERE e.id > %(entry_floor)s) t
            WHERE balance_after <> running""",
        "entry {0} disagrees with its operation {1}": f"""
            SELECT b.balance_id, e.id, o.request_id
            FROM {entry} e JOIN {operation} o ON o.id = e.operation_id JOIN {balance} b ON b.id = e.balance_id
            WHERE e.id > %(entry_floor)s
              AND (o.kind <> e.kind OR o.balance_id <> e.balance_id OR o.amount <> e.amount
                   OR {month('o.created_at')} <> {month('e.created_at')})""",
        # What foreign and unique keys said before the ledger was partitioned by month.
        "entry {0} names operation {1}, which does not exist": f"""
            SELECT b.balance_id, e.id, e.operation_id
            FROM {entry} e JOIN {balance} b ON b.id = e.balance_id
            WHERE e.id > %(entry_floor)s AND NOT EXISTS (SELECT 1 FROM {operation} o WHERE o.id = e.operation_id)""",
        "operation {0} has {1} ledger entries": f"""
            SELECT b.balance_id, o.request_id, count(*)
            FROM {entry} e JOIN {operation} o ON o.id = e.operation_id JOIN {balance} b ON b.id = e.balance_id
            WHERE e.id > %(entry_floor)s GROUP BY b.balance_id, o.request_id HAVING count(*) > 1""",
        "operation {0} is not the one its request_id's claim names ({1})": f"""
            SELECT b.balance_id, o.request_id, r.operation_id
            FROM {operation} o JOIN {balance} b ON b.id = o.balance_id
            LEFT JOIN {claim} r ON r.request_id = o.request_id
            WHERE o.id > %(operation_floor)s AND (r.operation_id IS NULL OR r.operation_id <> o.id)""",
        "operation {0} ({1}) has no ledger entry": f"""
            SELECT b.balance_id, o.request_id, o.kind
            FROM {operation} o JOIN {balance} b ON b.id = o.balance_id
            LEFT JOIN {entry} e ON e.operation_id = o.id
            WHERE o.id > %(operation_floor)s AND e.id IS NULL AND NOT (o.kind IN ({outgoing}) AND NOT o.force)""",
        "operation {0} does not undo what {1} moved": f"""
            SELECT b.balance_id, o.request_id, orig.request_id
            FROM {operation} o JOIN {operation} orig ON orig.id = o.reversal_of_id
            JOIN {balance} b ON b.id = o.balance_id LEFT JOIN {entry} oe ON oe.operation_id = orig.id
            WHERE o.id > %(operation_floor)s
              AND (o.balance_id <> orig.balance_id OR oe.id IS NULL OR o.amount <> oe.realized_amount
                   OR (o.kind, orig.kind) NOT IN ({pairs}))""",
        "checkpoint of {0} names {1} as the previous hash, not {2}": f"""
            SELECT balance_id, day, previous_hash, expected FROM (
                SELECT b.balance_id, c.day, c.previous_hash,
                       COALESCE(LAG(c.hash) OVER (PARTITION BY c.balance_id ORDER BY c.day), '{GENESIS}') AS expected
                FROM {checkpoint} c JOIN {balance} b ON b.id = c.balance_id) t
            WHERE previous_hash <> expected""",
        "checkpoint of {0} closes at {1}, its last entry {2} at {3}": f"""
            {'' if full else 'WITH ' + latest}
            SELECT b.balance_id, c.day, c.closing_amount, c.last_entry_id, e.balance_after
            FROM {checkpoint} c JOIN {balance} b ON b.id = c.balance_id
            LEFT JOIN {entry} e ON e.id = c.last_entry_id AND e.balance_id = c.balance_id
            WHERE {'1 = 1' if full else 'c.last_entry_id IN (SELECT last_entry_id FROM cp)'} AND {live}
              AND (e.id IS NULL OR e.balance_after <> c.closing_amount)""",
    }
    return queries


def _horizon() -> CheckpointRun | None:
    """The checkpoint run of the newest archive's last day: nothing before it is live."""
    archive = LedgerArchive.objects.order_by("-ends").first()
    return None if archive is None else CheckpointRun.objects.filter(day=archive.last_day).first()


def _floors(full: bool, horizon: CheckpointRun | None) -> dict[str, int]:
    if full:
        run = horizon
    else:
        run = CheckpointRun.objects.order_by("-day").first()
    return {"entry_floor": run.up_to_entry_id if run else 0, "operation_floor": run.up_to_operation_id if run else 0}


def _hash_problems(horizon: CheckpointRun | None) -> list[LedgerMismatch]:
    """Recompute every live checkpoint's hash from the entries it covers (streamed, balance by balance)."""
    problems = []
    checkpoints = Checkpoint.objects.select_related("balance").order_by("balance_id", "day")
    entries = LedgerEntry.objects.all()
    if horizon is not None:
        checkpoints = checkpoints.filter(day__gt=horizon.day)
        entries = entries.filter(id__gt=horizon.up_to_entry_id)
    checkpoints = checkpoints.iterator(chunk_size=2000)
    rows = entries.order_by("balance_id", "id").values_list("balance_id", *ENTRY_FIELDS).iterator(chunk_size=5000)
    pending = next(rows, None)
    for balance_id, group in groupby(checkpoints, key=lambda c: c.balance_id):
        while pending is not None and pending[0] < balance_id:
            pending = next(rows, None)
        for checkpoint in group:
            batch = []
            while pending is not None and pending[0] == balance_id and pending[1] <= checkpoint.last_entry_id:
                batch.append(pending[1:])
                pending = next(rows, None)
            digest, count = chain_hash(checkpoint.previous_hash, batch)
            if (digest, count) != (checkpoint.hash, checkpoint.entries):
                problems.append(LedgerMismatch(
                    balance_id=checkpoint.balance.balance_id,
                    problem=f"checkpoint of {checkpoint.day} does not match its entries "
                            f"({count} entries hash to {digest[:12]}…, recorded {checkpoint.entries} and "
                            f"{checkpoint.hash[:12]}…): an old entry was rewritten or removed"))
    return problems


def ledger_verify_report(*, full: bool = False) -> VerifyReport:
    horizon = _horizon()
    floors = _floors(full, horizon)
    problems = []
    with unbounded_statements(), connection.cursor() as cursor:
        for template, sql in _queries(full, str(horizon.day) if horizon else None).items():
            cursor.execute(sql, floors)
            for balance_id, *details in cursor.fetchall():
                problems.append(LedgerMismatch(balance_id=balance_id, problem=template.format(*details)))
        if full:
            problems += _hash_problems(horizon)
        checked = LedgerEntry.objects.filter(id__gt=floors["entry_floor"]).count()
    return VerifyReport(problems=problems, full=full, balances=Balance.objects.count(), entries_checked=checked)


def ledger_verify(*, full: bool = False) -> list[LedgerMismatch]:
    """Every disagreement found (empty: the ledger verifies)."""
    return ledger_verify_report(full=full).problems


def ledger_verify_recorded(*, full: bool = False) -> VerifyReport:
    """ledger_verify, remembered (VerifyRun): the monitoring alerts when the last clean run is too old."""
    started = timezone.now()
    report = ledger_verify_report(full=full)
    VerifyRun.objects.create(started_at=started, finished_at=timezone.now(), full=full,
                             problems=len(report.problems), balances=report.balances,
                             entries_checked=report.entries_checked)
    return report
