"""Reads of the wallet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, models

from balances.errors import AlreadyReversed, BalanceNotFound, CustomerBlocked, OperationNotReversible
from balances.models import ADJUSTMENTS, REVERSES, Balance, Kind, LedgerEntry, Operation, RequestId
from balances.money import format_amount
from customers.ids import is_external_id
from customers.models import Customer


@dataclass(frozen=True)
class BalanceTarget:
    pk: int
    customer_id: str
    balance_id: str
    currency: str
    amount: Decimal | None  # None where only the identity was needed
    customer_blocked: bool


_TARGET_SQL = f"""
SELECT b.id, b.currency, b.amount, c.is_blocked
FROM {Balance._meta.db_table} b JOIN {Customer._meta.db_table} c ON c.id = b.customer_id
WHERE b.balance_id = %s AND c.customer_id = %s
"""


def balance_target(*, customer_id: str, balance_id: str) -> BalanceTarget:
    """The balance `balance_id` of customer `customer_id`, or 404.

    Unknown customer, unknown balance and a balance of another customer are the same 404:
    a caller learns nothing about ids that are not theirs.
    """
    row = None
    if is_external_id(customer_id) and is_external_id(balance_id):
        with connection.cursor() as cursor:
            cursor.execute(_TARGET_SQL, [balance_id, customer_id])
            row = cursor.fetchone()
    if row is None:
        raise BalanceNotFound()
    pk, currency, amount, blocked = row
    if not isinstance(amount, Decimal):
        # SQLite (the demo) hands numerics back as int or float; str() round-trips the stored value.
        amount = Decimal(str(amount))
    return BalanceTarget(pk=pk, customer_id=customer_id, balance_id=balance_id, currency=currency,
                         amount=amount, customer_blocked=bool(blocked))


def balance_get(*, customer_id: str, balance_id: str) -> BalanceTarget:
    """A balance as Quadcode may see it: 451 while its customer is blocked."""
    target = balance_target(customer_id=customer_id, balance_id=balance_id)
    if target.customer_blocked:
        raise CustomerBlocked()
    return target


def customer_balance(*, customer_id: str, balance_id: str | None = None) -> Balance:
    """One of a customer's balances: the one named, or their first real balance (else their first)."""
    balances = Balance.objects.filter(customer__customer_id=customer_id)
    if balance_id is not None:
        balance = balances.filter(balance_id=balance_id).first() if is_external_id(balance_id) else None
    else:
        balance = balances.order_by("-type", "created_at", "id").first()  # "real" sorts after "demo"
    if balance is None:
        raise BalanceNotFound()
    return balance


@dataclass(frozen=True)
class BalanceState:
    balance_id: str
    amount: str  # in the currency's precision
    currency: str
    updated_at_us: int  # the last entry's time, Unix microseconds


def balance_state(*, balance_id: str) -> BalanceState:
    balance = Balance.objects.get(balance_id=balance_id)
    last = LedgerEntry.objects.filter(balance=balance).order_by("-id").values_list("created_at", flat=True).first()
    moment = last or balance.created_at
    return BalanceState(balance_id=balance_id, amount=format_amount(balance.amount, balance.currency),
                        currency=balance.currency, updated_at_us=int(moment.timestamp() * 1_000_000))


def balance_recent_entries(*, balance: Balance, limit: int) -> list[LedgerEntry]:
    """The newest entries of a balance first, with their operation and author."""
    return list(LedgerEntry.objects.filter(balance=balance).select_related("operation", "created_by")
                .order_by("-id")[:limit])


def operation_reversal_kind(*, operation_id: int) -> tuple[Operation, Kind]:
    """The operation and the kind that would reverse it, or why it cannot be reversed."""
    original = Operation.objects.select_related("entry").filter(pk=operation_id).first()
    if original is None:
        raise OperationNotReversible(f"There is no operation {operation_id}.")
    if original.kind in (Kind.DEBIT, Kind.CREDIT):
        raise OperationNotReversible(
            "Quadcode's debits and credits are never reversed here: the position lives on the platform, "
            "and only Quadcode can undo it. Post a correction if the money must move.")
    if original.kind not in ADJUSTMENTS or getattr(original, "entry", None) is None:
        raise OperationNotReversible(f"Operation {operation_id} is a {original.kind}, not a posted staff adjustment.")
    if original.reversals.exists():
        raise AlreadyReversed(f"Operation {operation_id} has been reversed already.")
    kind = next(kind for kind, undoes in REVERSES.items() if kind is not Kind.RELEASE and original.kind in undoes)
    return original, kind


def balance_entries(*, balance: Balance):
    """Every entry of a balance, oldest first, with its operation and author (an iterator: a
    balance of years may hold millions)."""
    return (LedgerEntry.objects.filter(balance=balance).select_related("operation", "created_by")
            .order_by("id").iterator(chunk_size=2000))


def customer_reversed_operations(*, customer_id: str) -> list[int]:
    """The ids of a customer's operations that were reversed."""
    return list(Operation.objects.filter(balance__customer__customer_id=customer_id, reversals__isnull=False)
                .values_list("pk", flat=True))


def balance_held(*, balance: Balance) -> Decimal:
    """What pending outgoing requests hold on a balance: holds not yet released."""
    total = LedgerEntry.objects.filter(balance=balance, kind=Kind.HOLD, operation__reversals__isnull=True) \
        .aggregate(total=models.Sum("realized_amount"))["total"]
    return _decimal(total or 0)


def _decimal(value) -> Decimal:
    # SQLite (the demo) hands numerics back as int or float; str() round-trips the stored value.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def customer_balances_locked(*, customer_id: str) -> list[Balance]:
    """A customer's balances, each row locked until the caller's transaction ends, so that no
    movement lands between a check of what they hold and what the caller does next. In id
    order (every locker of several takes them in the same order: no deadlock); a movement
    holding one makes this wait, bounded by the serving role's lock_timeout."""
    return list(Balance.objects.select_for_update().filter(customer__customer_id=customer_id).order_by("id"))


def customer_balances(*, customer_id: str) -> list[Balance]:
    """A customer's balances, real ones first, oldest first."""
    return list(Balance.objects.filter(customer__customer_id=customer_id).order_by("-type", "created_at", "id"))


@dataclass(frozen=True)
class Statement:
    balance: Balance
    opening: Decimal  # what the balance held just before the period
    closing: Decimal  # what it held at the period's end
    entries: models.QuerySet  # the period's entries, oldest first


def balance_statement(*, balance: Balance, start, end) -> Statement:
    """Every entry of `balance` from `start` (inclusive) to `end` (exclusive), with the opening
    and closing amounts of the period (each entry carries the amount after it)."""
    entries = LedgerEntry.objects.filter(balance=balance)
    before = entries.filter(created_at__lt=start).order_by("-id").values_list("balance_after", flat=True).first()
    last = entries.filter(created_at__lt=end).order_by("-id").values_list("balance_after", flat=True).first()
    opening = _decimal(before) if before is not None else Decimal(0)
    closing = _decimal(last) if last is not None else opening
    period = entries.filter(created_at__gte=start, created_at__lt=end).order_by("id")
    return Statement(balance=balance, opening=opening, closing=closing, entries=period)


@dataclass(frozen=True)
class RecordedOperation:
    """An operation as reconciliation compares it: what was asked, and what was applied."""

    request_id: str
    kind: str
    customer_id: str
    balance_id: str
    amount: Decimal
    currency: str
    realized_amount: Decimal | None  # None: not applied (a declined debit)
    created_at: object


def _recorded(rows) -> list[RecordedOperation]:
    return [RecordedOperation(request_id=r[0], kind=r[1], customer_id=r[2], balance_id=r[3], amount=_decimal(r[4]),
                              currency=r[5], realized_amount=None if r[6] is None else _decimal(r[6]),
                              created_at=r[7]) for r in rows]


_RECORDED_FIELDS = ("request_id", "kind", "balance__customer__customer_id", "balance__balance_id", "amount",
                    "balance__currency", "entry__realized_amount", "created_at")


def operations_by_request_id(*, request_ids: list[str]) -> dict[str, RecordedOperation]:
    found = {}
    for start in range(0, len(request_ids), 5000):
        chunk = request_ids[start:start + 5000]
        # Through the claims: operations are partitioned by month, their request_id unindexed.
        claims = list(RequestId.objects.filter(request_id__in=chunk).values_list("operation_id", "created_at"))
        if not claims:
            continue
        operations = Operation.objects.filter(id__in=[c[0] for c in claims], created_at__gte=min(c[1] for c in claims),
                                              created_at__lte=max(c[1] for c in claims))
        found.update({op.request_id: op for op in _recorded(operations.values_list(*_RECORDED_FIELDS))})
    return found


def _first_id_from(moment) -> int:
    """The lowest operation id made at or after `moment`: found by walking the id index back from
    the newest operation, so it reads what came after `moment`, not the history before it."""
    before = Operation.objects.filter(created_at__lt=moment).order_by("-id").values_list("id", flat=True).first()
    return (before or 0) + 1


def quadcode_operations_between(*, start, end) -> list[RecordedOperation]:
    """Quadcode's debits and credits applied here whose own time is within [start, end]."""
    operations = Operation.objects.filter(id__gte=_first_id_from(start), created_at__gte=start, created_at__lte=end,
                                          kind__in=[Kind.DEBIT, Kind.CREDIT], entry__isnull=False)
    return _recorded(operations.order_by("id").values_list(*_RECORDED_FIELDS).iterator(chunk_size=5000))
