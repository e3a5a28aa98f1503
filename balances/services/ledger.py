"""The ledger's one way to move money, and Quadcode's debit and credit.

Every money movement is one operation (the idempotency record, keyed by request_id) plus at
most one ledger entry, written atomically together with the balance change.

On PostgreSQL the whole movement is one prepared SQL statement (`_attempt_postgresql`): it finds
the balance, claims the request_id, locks and updates the balance and appends the entry in a
single round trip, so the balance row is locked only for the statement and its commit, never
across Python code. That is what keeps one hot balance fast. Other databases (the SQLite demo)
use `_attempt_portable`, the same steps with the ORM inside one transaction; the test suite
holds both to the same behaviour on PostgreSQL (`LEDGER_ATTEMPTS`).

Every money movement commits on its own: called inside a caller's transaction it refuses to
run (b2b_server.db.ensure_durable), because that transaction would keep the balance row locked
until the caller commits. Side effects (the gateway's outbox) are queued after it.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import DataError, IntegrityError, connection, transaction

from b2b_server.db import ensure_durable
from b2b_server.errors import ServiceUnavailable
from balances.errors import (
    AlreadyReversed,
    AmountOutOfRange,
    BalanceNotFound,
    CurrencyMismatch,
    CustomerBlocked,
    InsufficientFunds,
    RequestIdConflict,
)
from balances.models import OUTGOING, Balance, Kind, LedgerEntry, Operation, RequestId
from balances.money import AMOUNT_LIMIT, validate_amount
from balances.selectors import BalanceTarget, balance_target
from customers.ids import is_external_id
from customers.models import Customer

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _Stored:
    """An operation recorded before this request, and its entry if it was applied."""

    operation_id: int
    kind: str
    balance_pk: int
    amount: Decimal
    force: bool
    realized_amount: Decimal | None
    balance_after: Decimal | None


@dataclass(frozen=True)
class _Attempt:
    target: BalanceTarget | None  # None: no such balance for this customer
    applied: _Applied | None = None  # None: not applied (request_id taken, or refused before)
    stored: _Stored | None = None  # the earlier operation under this request_id, when already seen


def ledger_debit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                 comment: str = "", force: bool = False) -> Posted:
    """Take `amount` off a balance (Quadcode opened a position).

    Without `force` an uncovered debit is declined with 402 and the decline is remembered
    under its request_id. With `force` it takes what there is, down to zero, and reports the
    amount actually taken as `realized_amount`.
    """
    return post_movement(kind=Kind.DEBIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment, force=force)


def ledger_credit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                  comment: str = "") -> Posted:
    """Add `amount` to a balance (Quadcode closed a position).

    Applied even for a blocked customer: the position is already closed on the platform's
    side, and refusing its settlement would strand the money.
    """
    return post_movement(kind=Kind.CREDIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment)


def ledger_deposit(*, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                   comment: str = "") -> Posted:
    """Bring broker money onto a balance (opening amount, a deposit)."""
    return post_movement(kind=Kind.DEPOSIT, customer_id=customer_id, balance_id=balance_id, request_id=request_id,
                 amount=amount, currency=currency, comment=comment)


def post_movement(*, kind: Kind, customer_id: str, balance_id: str, request_id: str, amount: Decimal, currency: str,
                  comment: str, force: bool = False, created_by: int | None = None, reversal_of: int | None = None,
                  within_transaction: bool = False) -> Posted:
    """Move money once per request_id, under every rule of the ledger. Only this package calls it.

    `within_transaction`: the caller's own durable transaction (balances.services.staff) groups
    several movements; otherwise the movement must commit on its own.
    """
    if not within_transaction:
        ensure_durable(f"a ledger {kind.value}")
    validate_amount(amount, currency)
    # A linked movement (reversal_of) goes through the ORM, which records the link; Quadcode's
    # debits and credits never have one and keep their single statement.
    vendor = "postgresql" if connection.vendor == "postgresql" and reversal_of is None else "portable"
    attempt = LEDGER_ATTEMPTS[vendor](kind=kind, customer_id=customer_id, balance_id=balance_id,
                                      request_id=request_id, amount=amount, currency=currency, comment=comment,
                                      force=force, created_by=created_by, reversal_of=reversal_of)
    target, applied = attempt.target, attempt.applied
    if target is None:
        raise BalanceNotFound()
    if currency != target.currency:
        raise CurrencyMismatch(f"Balance {balance_id} is held in {target.currency}, not {currency}.")
    if applied is None:
        # Not applied: the request_id was taken before (a replay or a conflict), or the customer
        # is blocked. A retry of a debit applied before the block must still get its answer.
        stored = attempt.stored or _stored_operation(request_id)
        if stored is None and target.customer_blocked and kind is Kind.DEBIT:
            raise CustomerBlocked()
        return _replay(kind=kind, target=target, request_id=request_id, amount=amount, force=force, stored=stored)
    if applied.realized_amount is None:
        raise InsufficientFunds()
    return Posted(operation_id=applied.operation_id, customer_id=target.customer_id, balance_id=target.balance_id,
                  currency=target.currency, kind=kind, amount=amount, realized_amount=applied.realized_amount,
                  balance_after=applied.balance_after, replayed=False)


def _stored_operation(request_id: str) -> _Stored | None:
    claim = RequestId.objects.filter(request_id=request_id).values_list("operation_id", "created_at").first()
    if claim is None:
        return None
    operation = Operation.objects.select_related("entry").filter(pk=claim[0], created_at=claim[1]).first()
    if operation is None:
        # Its month was archived out of the live database (its claim stays for ever).
        raise RequestIdConflict(f"request_id {request_id!r} was used in a month since archived; "
                                "it cannot be used again.")
    entry = getattr(operation, "entry", None)
    return _Stored(operation_id=operation.pk, kind=operation.kind, balance_pk=operation.balance_id,
                   amount=operation.amount, force=operation.force,
                   realized_amount=entry.realized_amount if entry else None,
                   balance_after=entry.balance_after if entry else None)


def _replay(*, kind: Kind, target: BalanceTarget, request_id: str, amount: Decimal, force: bool,
            stored: _Stored | None) -> Posted:
    """Answer a request_id seen before: the stored outcome if it is the same request, else 409."""
    if stored is None:  # claimed by a request that then rolled back: nothing to replay, nothing applied
        raise RequestIdConflict(f"request_id {request_id!r} is being processed; retry.")
    if (stored.kind, stored.balance_pk, stored.amount, stored.force) != (kind, target.pk, amount, force):
        raise RequestIdConflict(f"request_id {request_id!r} was already used for a different operation.")
    if stored.realized_amount is None:
        raise InsufficientFunds()
    return Posted(operation_id=stored.operation_id, customer_id=target.customer_id, balance_id=target.balance_id,
                  currency=target.currency, kind=kind, amount=stored.amount,
                  realized_amount=stored.realized_amount, balance_after=stored.balance_after, replayed=True)


_OPERATION = Operation._meta.db_table
_REQUEST_ID = RequestId._meta.db_table
_BALANCE = Balance._meta.db_table
_ENTRY = LedgerEntry._meta.db_table
_CUSTOMER = Customer._meta.db_table

# One statement, one round trip, its own transaction: find the balance, claim the request_id
# (a concurrent twin waits here until the first commits, then finds the key taken) for the
# operation's id, taken from its sequence beforehand, then write the operation, lock the
# balance row, take what the rules allow, append the entry. Nothing is claimed when the currency
# does not match or a debit meets a blocked customer. `cur` locks the newest row version and
# reads it; the UPDATE then works on that same version.
#
# Each statement also claims only the kinds it is written for, and names itself in its answer
# (`direction`). A prepared statement is known by a name that psycopg numbers per connection
# (_pg3_0, _pg3_1, …): behind a pooler that switches server connections between transactions
# (PgBouncer before 1.21 in transaction mode with DATABASE_SERVER_PREPARES left on), a debit
# bound to the name can find another client's credit statement under it, with the same
# parameters in the same places. Seen for real: a debit recorded as a debit that added the
# money. With the guard such a statement claims nothing and writes nothing, and the answer's
# `direction` tells it apart (a 503, retried).
_OUTGOING_KINDS = ", ".join(f"'{kind.value}'" for kind in sorted(OUTGOING))
_TARGET_CTE = f"""
target AS (
    SELECT b.id, b.currency, c.is_blocked
    FROM {_BALANCE} b JOIN {_CUSTOMER} c ON c.id = b.customer_id
    WHERE b.balance_id = %(balance_id)s AND c.customer_id = %(customer_id)s
), claim AS (
    INSERT INTO {_REQUEST_ID} (request_id, operation_id, created_at)
    SELECT %(request_id)s, nextval('{_OPERATION}_id_seq'), now() FROM target
    WHERE currency = %(currency)s AND NOT (is_blocked AND %(kind)s::text = 'debit')
      AND %(kind)s::text {{direction}} ({_OUTGOING_KINDS})
    ON CONFLICT (request_id) DO NOTHING
    RETURNING operation_id
), op AS (
    INSERT INTO {_OPERATION} (id, request_id, kind, balance_id, amount, force, created_at)
    SELECT claim.operation_id, %(request_id)s, %(kind)s::text, target.id, %(amount)s, %(force)s, now()
    FROM claim, target
    RETURNING id
), prior AS (
    SELECT o.id, o.kind, o.balance_id, o.amount, o.force, e.realized_amount, e.balance_after
    FROM {_REQUEST_ID} r JOIN {_OPERATION} o ON o.id = r.operation_id AND o.created_at = r.created_at
    LEFT JOIN {_ENTRY} e ON e.operation_id = o.id
    WHERE r.request_id = %(request_id)s
)"""

# What every statement answers: the balance found, the new operation if one was applied, and
# the earlier operation under this request_id (a replay is answered without another query).
_RESULT = """
FROM target LEFT JOIN op ON true LEFT JOIN upd ON true LEFT JOIN prior ON true
"""

_OUTGOING_SQL = f"""
WITH {_TARGET_CTE.format(direction="IN")}, cur AS (
    SELECT b.amount FROM {_BALANCE} b, target
    WHERE b.id = target.id AND EXISTS (SELECT FROM op)
    FOR NO KEY UPDATE OF b
), take AS (
    SELECT CASE WHEN amount >= %(amount)s THEN %(amount)s::numeric
                WHEN %(force)s THEN amount END AS realized
    FROM cur
), upd AS (
    UPDATE {_BALANCE} b SET amount = b.amount - take.realized
    FROM take, target WHERE b.id = target.id AND take.realized IS NOT NULL
    RETURNING take.realized, b.amount AS balance_after
), entry AS (
    INSERT INTO {_ENTRY} (operation_id, balance_id, kind, amount, realized_amount, balance_after, comment,
                          created_by_id, created_at)
    SELECT op.id, target.id, %(kind)s::text, %(amount)s, upd.realized, upd.balance_after, %(comment)s,
           %(created_by)s::bigint, now()
    FROM upd, target, op
)
SELECT 'outgoing', target.id, target.currency, target.is_blocked, op.id, upd.realized, upd.balance_after, prior.*
""" + _RESULT

_INCOMING_SQL = f"""
WITH {_TARGET_CTE.format(direction="NOT IN")}, upd AS (
    UPDATE {_BALANCE} b SET amount = b.amount + %(amount)s
    FROM target WHERE b.id = target.id AND EXISTS (SELECT FROM op)
    RETURNING b.amount AS balance_after
), entry AS (
    INSERT INTO {_ENTRY} (operation_id, balance_id, kind, amount, realized_amount, balance_after, comment,
                          created_by_id, created_at)
    SELECT op.id, target.id, %(kind)s::text, %(amount)s, %(amount)s, upd.balance_after, %(comment)s,
           %(created_by)s::bigint, now()
    FROM upd, target, op
)
SELECT 'incoming', target.id, target.currency, target.is_blocked, op.id, %(amount)s::numeric, upd.balance_after,
       prior.*
""" + _RESULT


def _attempt_postgresql(*, kind: Kind, customer_id: str, balance_id: str, request_id: str, amount: Decimal,
                        currency: str, comment: str, force: bool, created_by: int | None,
                        reversal_of: int | None = None) -> _Attempt:
    if not (is_external_id(customer_id) and is_external_id(balance_id)):
        return _Attempt(target=None)
    params = {"customer_id": customer_id, "balance_id": balance_id, "request_id": request_id, "kind": kind.value,
              "amount": amount, "currency": currency, "force": force, "comment": comment, "created_by": created_by}
    # Outside a transaction the statement is its own transaction; inside a caller's transaction
    # a savepoint keeps a failure from poisoning it.
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with scope, connection.wrap_database_errors:
            connection.ensure_connection()
            # A server-side prepared statement: planned once per connection, not per request.
            with psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(_OUTGOING_SQL if kind in OUTGOING else _INCOMING_SQL, params, prepare=True)
                row = cursor.fetchone()
    except DataError:
        # numeric field overflow: the balance would leave NUMERIC(30, 8).
        raise AmountOutOfRange() from None
    if row is None:
        return _Attempt(target=None)
    direction, pk, balance_currency, blocked, operation_id, realized, after, *prior = row
    if direction != ("outgoing" if kind in OUTGOING else "incoming"):
        # Another client's statement under our statement's name (see _TARGET_CTE): it wrote nothing.
        log.error("prepared statement lost: a %s ran as the %s statement (a transaction-mode pooler? "
                  "set DATABASE_SERVER_PREPARES=false)", kind.value, direction)
        raise ServiceUnavailable()
    target = BalanceTarget(pk=pk, customer_id=customer_id, balance_id=balance_id, currency=balance_currency,
                           amount=None, customer_blocked=blocked)
    if operation_id is not None:
        return _Attempt(target=target, applied=_Applied(operation_id=operation_id, realized_amount=realized,
                                                        balance_after=after))
    # prior is empty when the twin that took the request_id committed after this statement began.
    return _Attempt(target=target, stored=_Stored(*prior) if prior[0] is not None else None)


def _attempt_portable(*, kind: Kind, customer_id: str, balance_id: str, request_id: str, amount: Decimal,
                      currency: str, comment: str, force: bool, created_by: int | None,
                      reversal_of: int | None = None) -> _Attempt:
    try:
        target = balance_target(customer_id=customer_id, balance_id=balance_id)
    except BalanceNotFound:
        return _Attempt(target=None)
    if target.currency != currency or (target.customer_blocked and kind is Kind.DEBIT):
        return _Attempt(target=target)
    with transaction.atomic():
        try:
            with transaction.atomic():
                operation = Operation.objects.create(request_id=request_id, kind=kind, balance_id=target.pk,
                                                     amount=amount, force=force, reversal_of_id=reversal_of)
                _claim(request_id, operation)
        except IntegrityError:
            if RequestId.objects.filter(request_id=request_id).exists():
                return _Attempt(target=target)
            if reversal_of is not None and Operation.objects.filter(reversal_of_id=reversal_of).exists():
                raise AlreadyReversed() from None
            raise
        current = Balance.objects.select_for_update(no_key=True).values_list("amount", flat=True).get(pk=target.pk)
        if kind not in OUTGOING:
            realized = amount
        elif current >= amount:
            realized = amount
        elif force:
            realized = current
        else:
            return _Attempt(target=target, applied=_Applied(operation_id=operation.pk, realized_amount=None,
                                                            balance_after=None))
        after = current + kind.sign * realized
        if after >= AMOUNT_LIMIT:
            raise AmountOutOfRange()
        Balance.objects.filter(pk=target.pk).update(amount=after)
        LedgerEntry.objects.create(operation=operation, balance_id=target.pk, kind=kind, amount=amount,
                                   realized_amount=realized, balance_after=after, comment=comment,
                                   created_by_id=created_by, created_at=operation.created_at)
    return _Attempt(target=target, applied=_Applied(operation_id=operation.pk, realized_amount=realized,
                                                    balance_after=after))


def _claim(request_id: str, operation: Operation) -> None:
    """Claim request_id for `operation`, or raise IntegrityError when another operation has it. A
    twin's uncommitted claim is waited for (ON CONFLICT); one claimed for this very operation
    already (the trigger of migration 0011, until 0012) counts as ours."""
    RequestId.objects.bulk_create([RequestId(request_id=request_id, operation_id=operation.pk,
                                             created_at=operation.created_at)], ignore_conflicts=True)
    owner = RequestId.objects.filter(request_id=request_id).values_list("operation_id", flat=True).first()
    if owner != operation.pk:
        raise IntegrityError(f"request_id {request_id!r} is claimed by another operation")


# The two implementations of one attempt, by database vendor ("portable": any other). Tests run
# the portable one on PostgreSQL too, to hold both to the same behaviour.
LEDGER_ATTEMPTS = {"postgresql": _attempt_postgresql, "portable": _attempt_portable}
