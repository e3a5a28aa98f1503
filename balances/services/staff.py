"""Money that staff (and, through their requests, customers and API keys) move: opening a
balance, adjustments, holds and their release or settlement, reversals.

Each of these commits on its own (a durable transaction: no caller can wrap it and keep the
balance row locked), and a refusal — insufficient funds, an amount too precise — rolls the whole
movement back, so it leaves no trace in the ledger. The workflow around them (who asked, who
approved, four eyes, expiry, the audit trail) is backoffice's; each movement here is idempotent
by its request_id, so that workflow can always resume a step it was interrupted in.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from audit.actors import Actor
from b2b_server.errors import InvalidRequest
from balances.errors import BalanceExists, BalanceNotFound, HoldNotFound
from balances.models import ADJUSTMENTS, Balance, BalanceType, Kind, Operation
from balances.money import currency_exponent
from balances.selectors import operation_reversal_kind
from balances.services.ledger import Posted, post_movement
from customers.ids import EXTERNAL_ID_RULE, is_external_id
from customers.selectors import customer_get


def _balance(balance_id: str) -> Balance:
    balance = Balance.objects.select_related("customer").filter(balance_id=balance_id).first() \
        if is_external_id(balance_id) else None
    if balance is None:
        raise BalanceNotFound()
    return balance


def _move(balance: Balance, *, kind: Kind, amount: Decimal, request_id: str, comment: str, actor: Actor,
          reversal_of: int | None = None) -> Posted:
    return post_movement(kind=kind, customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                         request_id=request_id, amount=amount, currency=balance.currency, comment=comment,
                         created_by=actor.user_id, reversal_of=reversal_of, within_transaction=True)


@transaction.atomic
def balance_open(*, customer_id: str, balance_id: str, currency: str, type: str = BalanceType.REAL,
                 amount: Decimal = Decimal(0)) -> Balance:
    """Open a balance; a non-zero opening amount is posted as a deposit entry, never written directly."""
    customer = customer_get(customer_id=customer_id)
    if not is_external_id(balance_id):
        raise InvalidRequest(f"balance_id must be {EXTERNAL_ID_RULE}")
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
        # Inside this transaction on purpose: nobody else can know, let alone wait for, a balance
        # that is being created; a failed deposit leaves no balance behind.
        post_movement(kind=Kind.DEPOSIT, customer_id=customer_id, balance_id=balance_id,
                      request_id=f"open:{balance_id}", amount=amount, currency=currency, comment="opening amount",
                      within_transaction=True)
        balance.refresh_from_db(fields=["amount"])
    return balance


@transaction.atomic(durable=True)
def ledger_adjustment_post(*, balance_id: str, kind: Kind, amount: Decimal, request_id: str, comment: str,
                           actor: Actor) -> Posted:
    """A deposit, withdrawal or correction, posted now (exact in the currency, never below zero)."""
    if kind not in ADJUSTMENTS:
        raise InvalidRequest(f"An adjustment is one of {', '.join(k.value for k in ADJUSTMENTS)}.")
    return _move(_balance(balance_id), kind=kind, amount=amount, request_id=request_id, comment=comment, actor=actor)


@transaction.atomic(durable=True)
def ledger_hold(*, balance_id: str, amount: Decimal, request_id: str, comment: str, actor: Actor) -> Posted:
    """Set money aside for a pending outgoing request: Quadcode sees (and may debit) that much less
    at once. Refused (402) when the balance does not cover it."""
    return _move(_balance(balance_id), kind=Kind.HOLD, amount=amount, request_id=request_id, comment=comment,
                 actor=actor)


def _applied_hold(hold_request_id: str) -> Operation:
    hold = Operation.objects.select_related("entry", "balance__customer").filter(
        request_id=hold_request_id, kind=Kind.HOLD).first()
    if hold is None or getattr(hold, "entry", None) is None:
        raise HoldNotFound(f"No hold {hold_request_id!r} was posted.")
    return hold


@transaction.atomic(durable=True)
def ledger_hold_release(*, hold_request_id: str, request_id: str, comment: str, actor: Actor) -> Posted:
    """Give a hold's money back (the request was rejected or expired). Once per hold."""
    hold = _applied_hold(hold_request_id)
    return _move(hold.balance, kind=Kind.RELEASE, amount=hold.entry.realized_amount, request_id=request_id,
                 comment=comment, actor=actor, reversal_of=hold.pk)


@transaction.atomic(durable=True)
def ledger_hold_settle(*, hold_request_id: str, release_request_id: str, request_id: str, kind: Kind, comment: str,
                       actor: Actor, reversal_of: int | None = None) -> Posted:
    """Carry out an approved outgoing request: its hold is released and the movement itself
    posted in the same transaction, so the money never becomes free in between."""
    hold = _applied_hold(hold_request_id)
    _move(hold.balance, kind=Kind.RELEASE, amount=hold.entry.realized_amount, request_id=release_request_id,
          comment=comment, actor=actor, reversal_of=hold.pk)
    return _move(hold.balance, kind=kind, amount=hold.entry.realized_amount, request_id=request_id, comment=comment,
                 actor=actor, reversal_of=reversal_of)


@transaction.atomic(durable=True)
def ledger_reverse(*, operation_id: int, request_id: str, comment: str, actor: Actor) -> Posted:
    """Post the linked opposite of a staff adjustment (once). Quadcode's debits and credits are refused."""
    original, kind = operation_reversal_kind(operation_id=operation_id)
    balance = Balance.objects.select_related("customer").get(pk=original.balance_id)
    return _move(balance, kind=kind, amount=original.entry.realized_amount, request_id=request_id, comment=comment,
                 actor=actor, reversal_of=original.pk)
