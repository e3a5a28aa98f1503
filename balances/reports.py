"""What the broker reports: a balance's statement day by day, and what it owes its customers
(now, or at a past moment — from the checkpoints and the entries after them)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, Q

from balances.models import Balance, Checkpoint, CheckpointRun, Kind, LedgerEntry, Operation

ZERO = Decimal(0)
# Each kind's column in a daily statement, and its sign there (amounts taken and given are
# positive in their own columns; corrections and holds are net).
_COLUMNS = {
    Kind.DEBIT: ("debits", 1), Kind.CREDIT: ("credits", 1), Kind.DEPOSIT: ("deposits", 1),
    Kind.WITHDRAWAL: ("withdrawals", 1), Kind.CORRECTION_IN: ("corrections", 1),
    Kind.CORRECTION_OUT: ("corrections", -1), Kind.REVERSAL_IN: ("corrections", 1),
    Kind.REVERSAL_OUT: ("corrections", -1), Kind.HOLD: ("holds", 1), Kind.RELEASE: ("holds", -1),
}
# How each column moves the closing amount (corrections are net already; holds set money aside).
_EFFECT = {"debits": -1, "credits": 1, "deposits": 1, "withdrawals": -1, "corrections": 1, "holds": -1}


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass
class StatementDay:
    day: dt.date
    opening: Decimal
    debits: Decimal = ZERO
    credits: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    corrections: Decimal = ZERO  # net: corrections and reversals, in minus out
    holds: Decimal = ZERO  # net: set aside minus released
    closing: Decimal = ZERO
    columns = ("opening", "debits", "credits", "deposits", "withdrawals", "corrections", "holds", "closing")


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, dt.UTC)
    return start, start + dt.timedelta(days=1)


def daily_statement(*, balance: Balance, start: dt.date, end: dt.date) -> list[StatementDay]:
    """One row per day from `start` to `end` (inclusive, UTC days); each day's closing is the
    next day's opening, and closing = opening − debits + credits + deposits − withdrawals
    + corrections − holds."""
    begin, _ = _day_bounds(start)
    _, finish = _day_bounds(end)
    entries = LedgerEntry.objects.filter(balance=balance)
    before = entries.filter(created_at__lt=begin).order_by("-id").values_list("balance_after", flat=True).first()
    running = _decimal(before) if before is not None else ZERO
    by_day: dict[dt.date, list] = defaultdict(list)
    for kind, realized, created_at in entries.filter(created_at__gte=begin, created_at__lt=finish) \
            .order_by("id").values_list("kind", "realized_amount", "created_at").iterator(chunk_size=5000):
        by_day[created_at.astimezone(dt.UTC).date()].append((kind, _decimal(realized)))
    days, day = [], start
    while day <= end:
        row = StatementDay(day=day, opening=running)
        for kind, realized in by_day.get(day, ()):
            column, sign = _COLUMNS[Kind(kind)]
            setattr(row, column, getattr(row, column) + sign * realized)
        row.closing = row.opening + sum(_EFFECT[c] * getattr(row, c) for c in _EFFECT)
        running = row.closing
        days.append(row)
        day += dt.timedelta(days=1)
    return days


@dataclass
class Liability:
    currency: str
    owed: Decimal = ZERO  # what the customers' balances hold, set-aside amounts included
    held: Decimal = ZERO  # of which set aside for pending withdrawals
    balances: int = 0
    balance_ids: list = field(default_factory=list, repr=False)


def _held_by_balance(at: dt.datetime | None) -> dict[int, Decimal]:
    """Holds not released (by `at`): what pending outgoing requests set aside, per balance."""
    holds = Operation.objects.filter(kind=Kind.HOLD, entry__isnull=False)
    if at is None:
        holds = holds.filter(reversals__isnull=True)
    else:
        holds = holds.filter(entry__created_at__lte=at).exclude(
            Q(reversals__isnull=False) & Q(reversals__entry__created_at__lte=at))
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for balance_id, realized in holds.values_list("balance_id", "entry__realized_amount"):
        held[balance_id] += _decimal(realized)
    return held


def _amounts_at(at: dt.datetime) -> dict[int, Decimal]:
    """Each balance's amount at a past moment: its checkpoint of the last day that ended by then,
    moved by the entries after that checkpoint up to the moment."""
    run = CheckpointRun.objects.filter(day__lt=at.astimezone(dt.UTC).date()).order_by("-day").first()
    amounts: dict[int, Decimal] = {}
    if run is not None:
        days = dict(Checkpoint.objects.filter(day__lte=run.day).values("balance_id").annotate(day=Max("day"))
                    .values_list("balance_id", "day"))
        for checkpoint in Checkpoint.objects.filter(day__in=set(days.values()), balance_id__in=list(days)) \
                .values_list("balance_id", "day", "closing_amount").iterator(chunk_size=5000):
            if days[checkpoint[0]] == checkpoint[1]:
                amounts[checkpoint[0]] = _decimal(checkpoint[2])
    later = LedgerEntry.objects.filter(id__gt=run.up_to_entry_id if run else 0, created_at__lte=at)
    for balance_id, after in later.order_by("id").values_list("balance_id", "balance_after").iterator(chunk_size=5000):
        amounts[balance_id] = _decimal(after)
    return amounts


def liabilities(*, at: dt.datetime | None = None) -> list[Liability]:
    """Per currency: what the broker owes its customers, what of it is set aside, over how many
    balances — now, or at a past moment `at`."""
    balances = Balance.objects.all() if at is None else Balance.objects.filter(created_at__lte=at)
    held = _held_by_balance(at)
    amounts = None if at is None else _amounts_at(at)
    result: dict[str, Liability] = {}
    for pk, currency, amount in balances.values_list("pk", "currency", "amount").iterator(chunk_size=5000):
        available = _decimal(amount) if amounts is None else amounts.get(pk, ZERO)
        line = result.setdefault(currency, Liability(currency=currency))
        line.owed += available + held.get(pk, ZERO)
        line.held += held.get(pk, ZERO)
        line.balances += 1
    return [result[currency] for currency in sorted(result)]
