"""Writes to the wallet: debit, credit, deposit, opening a balance.

Every money movement is one operation (the idempotency record, keyed by request_id) plus at
most one ledger entry, written atomically together with the balance change.

On PostgreSQL the whole movement is one SQL statement (`_apply_postgresql`): it claims the
request_id, locks and updates the balance and appends the entry in a single round trip, so the
balance row is locked only for the statement and its commit, never across Python code. That
is what keeps one hot balance fast. Other databases (the SQLite demo) use `_apply_portable`,
the same steps with the ORM inside one transaction; the test suite holds both to the same
behaviour on PostgreSQL.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal

from django.db import DataError, IntegrityError, connection, transaction

from balances.errors import (
    AmountOutOfRange,
    BalanceExists,
    CurrencyMismatch,
    CustomerBlocked,
    InsufficientFunds,
    RequestIdConflict,
)
from balances.models import Balance, BalanceType, Kind, LedgerEntry, Operation
from balances.money import AMOUNT_LIMIT, currency_exponent, validate_amount
from balances.selectors import BalanceTarget, balance_target
from customers.ids import EXTERNAL_ID_MAX_LENGTH, is_external_id
from customers.selectors import customer_get
from b2b_server.errors import InvalidRequest


@dataclass(frozen=True)
class Posted:
    operation_id: int
    customer_id: str
    balance_id: str
    currency: str
    kind: Kind
    amount: Decimal
    realized_amount: Decimal
    balance_after: Decimal
    replayed: bool


@dataclass(frozen=True)
class _Applied:
    operation_id: int
    realized_amount: Decimal | None  # None: a debit declined for insufficient funds
    balance_after: Decimal | None


def ledger_debit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                 comment: str = "", force: bool = False) -> Posted:
    """Take `amount` off a balance (Quadcode opened a position).

    Without `force` an uncovered debit is declined with 402 and the decline is remembered
    under its request_id. With `force` it takes what there is, down to zero, and reports the
    amount actually taken as `realized_amount`.
    """
    return _post(kind=Kind.DEBIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment, force=force)


def ledger_credit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                  comment: str = "") -> Posted:
    """Add `amount` to a balance (Quadcode closed a position).

    Applied even for a blocked customer: the position is already closed on the platform's
    side, and refusing its settlement would strand the money.
    """
    return _post(kind=Kind.CREDIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment)


def ledger_deposit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                   comment: str = "") -> Posted:
    """Bring broker money onto a balance (opening amount, a deposit)."""
    return _post(kind=Kind.DEPOSIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment)


@transaction.atomic
def balance_open(*, customer_id: str, balance_id: str, currency: str, type: str = BalanceType.REAL,
                 amount: Decimal = Decimal(0)) -> Balance:
    """Open a balance; a non-zero opening amount is posted as a deposit entry, never written directly."""
    customer = customer_get(customer_id=customer_id)
    if not is_external_id(balance_id):
        raise InvalidRequest(f"balance_id must be 1-{EXTERNAL_ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ : -")
    currency_exponent(currency)
    if type not in BalanceType.values:
        raise InvalidRequest(f"type must be one of {', '.join(BalanceType.values)}.")
    if amount < 0:
        raise InvalidRequest("The opening amount cannot be negative.")
    try:
        with transaction.atomic():
            balance = Balance.objects.create(balance_id=balance_id, customer=customer, currency=currency, type=type)
    except IntegrityError:
        raise BalanceExists(f"Balance {balance_id} already exists.") from None
    if amount:
        ledger_deposit(customer_id=customer_id, balance_id=balance_id, request_id=f"open:{balance_id}",
                       amount=amount, currency=currency, comment="opening amount")
        balance.refresh_from_db(fields=["amount"])
    return balance


def _post(*, kind: Kind, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
          comment: str, force: bool = False) -> Posted:
    target = balance_target(customer_id=customer_id, balance_id=balance_id)
    if currency != target.currency:
        raise CurrencyMismatch(f"Balance {balance_id} is held in {target.currency}, not {currency}.")
    validate_amount(amount, currency)
    if target.customer_blocked and kind is Kind.DEBIT:
        # A retry of a debit applied before the block must still get its original answer.
        if Operation.objects.filter(request_id=request_id).exists():
            return _replay(kind=kind, target=target, request_id=request_id, amount=amount, force=force)
        raise CustomerBlocked()
    apply = _apply_postgresql if connection.vendor == "postgresql" else _apply_portable
    applied = apply(kind=kind, balance_pk=target.pk, request_id=request_id, amount=amount, force=force,
                    comment=comment)
    if applied is None:
        return _replay(kind=kind, target=target, request_id=request_id, amount=amount, force=force)
    if applied.realized_amount is None:
        raise InsufficientFunds()
    return Posted(operation_id=applied.operation_id, customer_id=target.customer_id, balance_id=target.balance_id,
                  currency=target.currency, kind=kind, amount=amount, realized_amount=applied.realized_amount,
                  balance_after=applied.balance_after, replayed=False)


def _replay(*, kind: Kind, target: BalanceTarget, request_id: str, amount: Decimal, force: bool) -> Posted:
    """Answer a request_id seen before: the stored outcome if it is the same request, else 409."""
    operation = Operation.objects.select_related("entry").get(request_id=request_id)
    if (operation.kind, operation.balance_id, operation.amount, operation.force) != (kind, target.pk, amount, force):
        raise RequestIdConflict(f"request_id {request_id!r} was already used for a different operation.")
    entry = getattr(operation, "entry", None)
    if entry is None:
        raise InsufficientFunds()
    return Posted(operation_id=operation.pk, customer_id=target.customer_id, balance_id=target.balance_id,
                  currency=target.currency, kind=kind, amount=operation.amount,
                  realized_amount=entry.realized_amount, balance_after=entry.balance_after, replayed=True)


_OPERATION = Operation._meta.db_table
_BALANCE = Balance._meta.db_table
_ENTRY = LedgerEntry._meta.db_table

# One statement: claim the request_id (a concurrent twin waits here until the first commits,
# then finds the key taken), lock the balance, take what the rules allow, append the entry.
# `cur` locks the newest row version and reads it; the UPDATE then works on that same version.
_DEBIT_SQL = f"""
WITH op AS (
    INSERT INTO {_OPERATION} (request_id, kind, balance_id, amount, force, created_at)
    VALUES (%(request_id)s, 'debit', %(balance_pk)s, %(amount)s, %(force)s, now())
    ON CONFLICT (request_id) DO NOTHING
    RETURNING id
), cur AS (
    SELECT amount FROM {_BALANCE}
    WHERE id = %(balance_pk)s AND EXISTS (SELECT FROM op)
    FOR NO KEY UPDATE
), take AS (
    SELECT CASE WHEN amount >= %(amount)s THEN %(amount)s::numeric
                WHEN %(force)s THEN amount END AS realized
    FROM cur
), upd AS (
    UPDATE {_BALANCE} b SET amount = b.amount - take.realized
    FROM take WHERE b.id = %(balance_pk)s AND take.realized IS NOT NULL
    RETURNING take.realized, b.amount AS balance_after
), entry AS (
    INSERT INTO {_ENTRY} (request_id, balance_id, kind, amount, realized_amount, balance_after, comment, created_at)
    SELECT %(request_id)s, %(balance_pk)s, 'debit', %(amount)s, upd.realized, upd.balance_after, %(comment)s, now()
    FROM upd
)
SELECT op.id, upd.realized, upd.balance_after FROM op LEFT JOIN upd ON true
"""

_CREDIT_SQL = f"""
WITH op AS (
    INSERT INTO {_OPERATION} (request_id, kind, balance_id, amount, force, created_at)
    VALUES (%(request_id)s, %(kind)s, %(balance_pk)s, %(amount)s, false, now())
    ON CONFLICT (request_id) DO NOTHING
    RETURNING id
), upd AS (
    UPDATE {_BALANCE} SET amount = amount + %(amount)s
    WHERE id = %(balance_pk)s AND EXISTS (SELECT FROM op)
    RETURNING amount AS balance_after
), entry AS (
    INSERT INTO {_ENTRY} (request_id, balance_id, kind, amount, realized_amount, balance_after, comment, created_at)
    SELECT %(request_id)s, %(balance_pk)s, %(kind)s, %(amount)s, %(amount)s, upd.balance_after, %(comment)s, now()
    FROM upd
)
SELECT op.id, %(amount)s::numeric, upd.balance_after FROM op JOIN upd ON true
"""


def _apply_postgresql(*, kind: Kind, balance_pk: int, request_id: str, amount: Decimal, force: bool,
                      comment: str) -> _Applied | None:
    sql = _DEBIT_SQL if kind is Kind.DEBIT else _CREDIT_SQL
    params = {"request_id": request_id, "kind": kind.value, "balance_pk": balance_pk, "amount": amount,
              "force": force, "comment": comment}
    # Outside a transaction the statement is its own transaction (one round trip); inside a
    # caller's transaction a savepoint keeps a failure from poisoning it.
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with scope, connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except DataError:
        # numeric field overflow: the balance would leave NUMERIC(30, 8).
        raise AmountOutOfRange() from None
    if row is None:
        return None
    return _Applied(operation_id=row[0], realized_amount=row[1], balance_after=row[2])


def _apply_portable(*, kind: Kind, balance_pk: int, request_id: str, amount: Decimal, force: bool,
                    comment: str) -> _Applied | None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                operation = Operation.objects.create(request_id=request_id, kind=kind, balance_id=balance_pk,
                                                     amount=amount, force=force)
        except IntegrityError:
            if Operation.objects.filter(request_id=request_id).exists():
                return None
            raise
        current = Balance.objects.select_for_update(no_key=True).values_list("amount", flat=True).get(pk=balance_pk)
        if kind is not Kind.DEBIT:
            realized = amount
        elif current >= amount:
            realized = amount
        elif force:
            realized = current
        else:
            return _Applied(operation_id=operation.pk, realized_amount=None, balance_after=None)
        after = current + kind.sign * realized
        if after >= AMOUNT_LIMIT:
            raise AmountOutOfRange()
        Balance.objects.filter(pk=balance_pk).update(amount=after)
        LedgerEntry.objects.create(operation=operation, balance_id=balance_pk, kind=kind, amount=amount,
                                   realized_amount=realized, balance_after=after, comment=comment)
    return _Applied(operation_id=operation.pk, realized_amount=realized, balance_after=after)
