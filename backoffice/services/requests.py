"""Staff (and, later, customers and API keys) asking to move money: idempotent requests, four
eyes, holds, approval, rejection, expiry, reversals — each step in the audit trail.

The money itself moves only through balances.services (the ledger's one writer), each step
keyed by the request, so every step here may be resumed after a crash or by a concurrent
twin, and is never applied twice. A refusal changes nothing: no request, no ledger row, no
audit row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.errors import PermissionMissing
from audit.models import Action
from audit.services import audit_record
from b2b_server.errors import DomainError, InvalidRequest
from backoffice.errors import (
    ExceedsAvailableAmount,
    KeyConflict,
    OwnRequest,
    RequestNotFound,
    RequestNotPending,
)
from backoffice.models import AdjustmentRequest
from backoffice.notify import customer_notify
from balances.errors import AlreadyReversed, BalanceNotFound, InsufficientFunds
from balances.models import OUTGOING, Balance, Kind
from balances.money import format_amount, validate_amount
from balances.selectors import operation_reversal_kind
from balances.services import (
    Posted,
    ledger_adjustment_post,
    ledger_hold,
    ledger_hold_release,
    ledger_hold_settle,
    ledger_reverse,
)
from events.services import event_record
from quadcode.services import balance_moved, withdrawable_amount

log = logging.getLogger(__name__)
State = AdjustmentRequest.State
RequestKind = AdjustmentRequest.Kind
KEY_MAX_LENGTH = 200
REASON_MAX_LENGTH = 1000
# A request left half set up (its requester's process died) is resumed by the sweep after this.
STALE_AFTER = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class RequestOutcome:
    request_id: int
    state: str
    operation_id: int | None  # the posted ledger operation, once posted
    replayed: bool  # this key (or this decision) was seen before: nothing new was done

    @property
    def line(self) -> str:
        """What the commands print first: `posted OPERATION_ID` or `pending REQUEST_ID`."""
        if self.state == State.POSTED:
            return f"posted {self.operation_id}"
        return f"{self.state} {self.request_id}"


def _outcome(request: AdjustmentRequest, *, replayed: bool) -> RequestOutcome:
    return RequestOutcome(request_id=request.pk, state=request.state, operation_id=request.operation_id,
                          replayed=replayed)


def _require(actor: Actor, permission: str) -> None:
    if not actor.holds(permission):
        who = "an API key whose role grants" if actor.grants is not None else "an active staff member with"
        raise PermissionMissing(f"{actor.label} may not do this: it needs {who} {permission}.")


def needs_four_eyes(*, kind: str, amount: Decimal, currency: str) -> bool:
    """Every withdrawal; any other request at or above B2B_FOUR_EYES_FROM for its currency (`*`
    for the rest; a currency with no threshold at all always needs a second person)."""
    if kind == RequestKind.WITHDRAWAL:
        return True
    thresholds = settings.B2B_FOUR_EYES_FROM
    limit = thresholds.get(currency, thresholds.get("*"))
    return limit is None or amount >= limit


def _ledger_kind(kind: str, reversal_kind: Kind | None) -> Kind:
    return reversal_kind if kind == RequestKind.REVERSAL else Kind(kind)


def _fingerprint(*, kind: str, balance_id: str, amount: Decimal, currency: str, reason: str,
                 reversal_of: int | None) -> str:
    details = {"kind": kind, "balance_id": balance_id, "amount": format_amount(amount, currency), "reason": reason,
               "reversal_of": reversal_of}
    return hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX_LENGTH or not key.isprintable():
        raise InvalidRequest(f"The idempotency key must be 1-{KEY_MAX_LENGTH} printable characters.")
    return key.strip()


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("A request needs a reason.")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidRequest(f"The reason must be at most {REASON_MAX_LENGTH} characters.")
    return reason


def _check_withdrawable(balance: Balance, amount: Decimal, *, held_for_it: Decimal) -> None:
    """With a margin gateway: no more than it says may be withdrawn now. The money this request
    already holds counts as available to it: the gateway sees the balance without it."""
    limit = withdrawable_amount(customer_id=balance.customer.customer_id, balance_id=balance.balance_id)
    if limit is not None and amount > limit + held_for_it:
        available = format_amount(max(limit + held_for_it, Decimal(0)), balance.currency)
        raise ExceedsAvailableAmount(f"The customer may withdraw at most {available} {balance.currency} now "
                                     f"(open positions' collateral stays on the balance).")


# --- opening a request --------------------------------------------------------------------------

def adjustment_request(*, balance_id: str, kind: str, amount: Decimal, reason: str, key: str,
                       actor: Actor) -> RequestOutcome:
    """A staff member's deposit, withdrawal or correction (`balances.adjust_balance`)."""
    _require(actor, "balances.adjust_balance")
    if kind not in (RequestKind.DEPOSIT, RequestKind.WITHDRAWAL, RequestKind.CORRECTION_IN,
                    RequestKind.CORRECTION_OUT):
        raise InvalidRequest("An adjustment is a deposit, withdrawal, correction_in or correction_out.")
    balance = Balance.objects.select_related("customer").filter(balance_id=balance_id).first()
    if balance is None:
        raise BalanceNotFound()
    return request_open(balance=balance, kind=kind, amount=amount, reason=reason, key=key, actor=actor)


def operation_reverse(*, operation_id: int, reason: str, key: str, actor: Actor) -> RequestOutcome:
    """Undo a posted staff adjustment by its linked opposite, once, under the four-eyes rule of an
    adjustment of that size (`balances.adjust_balance`)."""
    _require(actor, "balances.adjust_balance")
    key, reason = _check_key(key), _check_reason(reason)
    existing = AdjustmentRequest.objects.filter(key=key).first()
    if existing is not None and existing.kind == RequestKind.REVERSAL and existing.reversal_of_id == operation_id:
        return request_open(balance=existing.balance, kind=RequestKind.REVERSAL, amount=existing.amount,
                            reason=reason, key=key, actor=actor, reversal_of=operation_id)
    original, _ = operation_reversal_kind(operation_id=operation_id)
    balance = Balance.objects.select_related("customer").get(pk=original.balance_id)
    return request_open(balance=balance, kind=RequestKind.REVERSAL, amount=original.entry.realized_amount,
                        reason=reason, key=key, actor=actor, reversal_of=operation_id)


def request_open(*, balance: Balance, kind: str, amount: Decimal, reason: str, key: str, actor: Actor,
                 reversal_of: int | None = None, four_eyes: bool | None = None) -> RequestOutcome:
    """Open (or replay) a request. The caller has checked that `actor` may ask for it.
    `four_eyes=True` sends it to a second person whatever its size (a customer's own requests)."""
    key, reason = _check_key(key), _check_reason(reason)
    if not isinstance(amount, Decimal):
        raise InvalidRequest("The amount must be a decimal.")
    validate_amount(amount, balance.currency)
    fingerprint = _fingerprint(kind=kind, balance_id=balance.balance_id, amount=amount, currency=balance.currency,
                               reason=reason, reversal_of=reversal_of)
    existing = AdjustmentRequest.objects.filter(key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    reversal_kind = operation_reversal_kind(operation_id=reversal_of)[1] if reversal_of is not None else None
    ledger_kind = _ledger_kind(kind, reversal_kind)
    outgoing = ledger_kind in OUTGOING
    if kind == RequestKind.WITHDRAWAL:
        _check_withdrawable(balance, amount, held_for_it=Decimal(0))
    balance.refresh_from_db(fields=["amount"])
    if outgoing and balance.amount < amount:
        raise InsufficientFunds(f"The balance holds {format_amount(balance.amount, balance.currency)} "
                                f"{balance.currency}; it does not cover {format_amount(amount, balance.currency)}.")
    try:
        with transaction.atomic():
            request = AdjustmentRequest.objects.create(
                key=key, fingerprint=fingerprint, kind=kind, balance=balance, amount=amount, currency=balance.currency,
                reason=reason, reversal_of_id=reversal_of, outgoing=outgoing,
                four_eyes=four_eyes or needs_four_eyes(kind=kind, amount=amount, currency=balance.currency),
                requested_by=actor.label, requested_by_user_id=actor.user_id)
    except IntegrityError:
        existing = AdjustmentRequest.objects.filter(key=key).first()
        if existing is not None:  # a twin with the same key got there first
            return _replay(existing, fingerprint)
        raise AlreadyReversed(f"A reversal of operation {reversal_of} is pending or posted already.") from None
    return _set_up(request, actor=actor, replayed=False)


def _replay(request: AdjustmentRequest, fingerprint: str) -> RequestOutcome:
    if request.fingerprint != fingerprint:
        raise KeyConflict(f"The key {request.key!r} was used for request {request.pk}, with other details.")
    actor = Actor(label=request.requested_by, user_id=request.requested_by_user_id)
    return _set_up(request, actor=actor, replayed=True)


def _set_up(request: AdjustmentRequest, *, actor: Actor, replayed: bool) -> RequestOutcome:
    """Take a `new` request to `pending` (holding its funds) or straight to `posted`."""
    if request.state != State.NEW:
        return _outcome(request, replayed=replayed)
    try:
        if request.four_eyes:
            hold = None
            if request.outgoing:
                hold = ledger_hold(balance_id=request.balance.balance_id, amount=request.amount,
                                   request_id=request.ledger_key("hold"), comment=request.reason, actor=actor)
            _transition_to_pending(request, actor, hold)
        else:
            posted = _post(request, actor)
            _transition_to_posted(request, actor, posted, from_state=State.NEW)
    except DomainError:
        # The ledger rolled its movement back: forget the request too, so the refusal leaves nothing.
        AdjustmentRequest.objects.filter(pk=request.pk, state=State.NEW).delete()
        raise
    request.refresh_from_db()
    if request.outgoing or request.state == State.POSTED:
        balance_moved(customer_id=request.balance.customer.customer_id, balance_id=request.balance.balance_id)
    return _outcome(request, replayed=replayed)


@transaction.atomic
def _transition_to_pending(request: AdjustmentRequest, actor: Actor, hold: Posted | None) -> None:
    updated = AdjustmentRequest.objects.filter(pk=request.pk, state=State.NEW).update(
        state=State.PENDING, hold_id=hold.operation_id if hold else None,
        expires_at=timezone.now() + dt.timedelta(seconds=settings.B2B_REQUEST_EXPIRY))
    if updated:
        audit_record(actor=actor, action=Action.ADJUSTMENT_REQUESTED, target=f"request:{request.pk}",
                     details=_details(request, held=hold is not None))
        _event(request, State.PENDING)
        customer_notify(request_id=request.pk, event="requested")


def _event(request: AdjustmentRequest, state: str, operation_id: int | None = None) -> None:
    """The request's new state in the event log (the integration API, webhooks, the live feed)."""
    event_record(type=f"request.{state}", customer_id=request.balance.customer.customer_id,
                 balance_id=request.balance.balance_id,
                 data={"request_id": request.pk, "kind": request.kind, "state": state,
                       "amount": format_amount(request.amount, request.currency), "currency": request.currency,
                       "operation_id": operation_id})


def _details(request: AdjustmentRequest, **extra) -> dict:
    return {"kind": request.kind, "balance_id": request.balance.balance_id,
            "amount": format_amount(request.amount, request.currency), "currency": request.currency,
            "reason": request.reason, "four_eyes": request.four_eyes, "reversal_of": request.reversal_of_id, **extra}


def _post(request: AdjustmentRequest, actor: Actor) -> Posted:
    """The request's movement itself (for an outgoing request with a hold: release and post together)."""
    if request.hold_id is not None:
        kind = _ledger_kind(request.kind, Kind.REVERSAL_OUT if request.kind == RequestKind.REVERSAL else None)
        return ledger_hold_settle(hold_request_id=request.ledger_key("hold"),
                                  release_request_id=request.ledger_key("release"),
                                  request_id=request.ledger_key("post"), kind=kind, comment=request.reason,
                                  actor=actor, reversal_of=request.reversal_of_id)
    if request.kind == RequestKind.REVERSAL:
        return ledger_reverse(operation_id=request.reversal_of_id, request_id=request.ledger_key("post"),
                              comment=request.reason, actor=actor)
    return ledger_adjustment_post(balance_id=request.balance.balance_id, kind=Kind(request.kind),
                                  amount=request.amount, request_id=request.ledger_key("post"),
                                  comment=request.reason, actor=actor)


@transaction.atomic
def _transition_to_posted(request: AdjustmentRequest, actor: Actor, posted: Posted, *, from_state: str) -> None:
    changes = {"state": State.POSTED, "operation_id": posted.operation_id}
    if from_state == State.NEW:
        changes.update(decided_by="", decided_at=timezone.now())
    updated = AdjustmentRequest.objects.filter(pk=request.pk, state=from_state).update(**changes)
    if not updated:
        return
    target = f"request:{request.pk}"
    if from_state == State.NEW:
        audit_record(actor=actor, action=Action.ADJUSTMENT_REQUESTED, target=target, details=_details(request))
    audit_record(actor=actor, action=Action.ADJUSTMENT_POSTED, target=target,
                 details={"operation_id": posted.operation_id, "kind": posted.kind.value,
                          "amount": format_amount(posted.realized_amount, posted.currency),
                          "balance_after": format_amount(posted.balance_after, posted.currency)})
    if request.kind == RequestKind.REVERSAL:
        audit_record(actor=actor, action=Action.OPERATION_REVERSED, target=f"operation:{request.reversal_of_id}",
                     details={"reversal_operation_id": posted.operation_id, "request_id": request.pk})
    _event(request, State.POSTED, operation_id=posted.operation_id)
    customer_notify(request_id=request.pk, event="posted")


# --- deciding ----------------------------------------------------------------------------------

def _decidable(request_id: int, actor: Actor) -> AdjustmentRequest:
    _require(actor, "balances.approve_adjustment")
    request = AdjustmentRequest.objects.select_related("balance__customer").filter(pk=request_id).first() \
        if isinstance(request_id, int) else None
    if request is None:
        raise RequestNotFound(f"There is no request {request_id}.")
    if (request.requested_by_user_id is not None and request.requested_by_user_id == actor.user_id) \
            or request.requested_by == actor.label:
        raise OwnRequest(f"Request {request.pk} was made by {request.requested_by}: someone else must decide it.")
    return request


def adjustment_approve(*, request_id: int, actor: Actor) -> RequestOutcome:
    """Approve a pending request (`balances.approve_adjustment`, never the requester): it is
    posted. Approving again, or a second approver racing the first, changes nothing."""
    request = _decidable(request_id, actor)
    if request.state in (State.APPROVED, State.POSTED):
        return _finish(request, replayed=True)
    if request.state != State.PENDING:
        raise RequestNotPending(f"Request {request.pk} is {request.state}.")
    if request.kind == RequestKind.WITHDRAWAL:
        _check_withdrawable(request.balance, request.amount,
                            held_for_it=request.amount if request.hold_id else Decimal(0))
    with transaction.atomic():
        updated = AdjustmentRequest.objects.filter(pk=request.pk, state=State.PENDING).update(
            state=State.APPROVED, decided_by=actor.label, decided_by_user_id=actor.user_id, decided_at=timezone.now())
        if updated:
            audit_record(actor=actor, action=Action.ADJUSTMENT_APPROVED, target=f"request:{request.pk}",
                         details=_details(request))
            _event(request, State.APPROVED)
    request.refresh_from_db()
    if not updated and request.state not in (State.APPROVED, State.POSTED):
        raise RequestNotPending(f"Request {request.pk} is {request.state}.")
    return _finish(request, replayed=not updated)


def _finish(request: AdjustmentRequest, *, replayed: bool) -> RequestOutcome:
    """Post an approved request (again, harmlessly, if a twin is doing the same)."""
    if request.state == State.APPROVED:
        approver = Actor(label=request.decided_by, user_id=request.decided_by_user_id)
        posted = _post(request, approver)
        _transition_to_posted(request, approver, posted, from_state=State.APPROVED)
        request.refresh_from_db()
        balance_moved(customer_id=request.balance.customer.customer_id, balance_id=request.balance.balance_id)
    return _outcome(request, replayed=replayed)


def adjustment_reject(*, request_id: int, actor: Actor, reason: str) -> RequestOutcome:
    """Reject a pending request with a reason (`balances.approve_adjustment`, never the requester):
    its hold is released. Rejecting again changes nothing."""
    reason = _check_reason(reason)
    request = _decidable(request_id, actor)
    if request.state == State.REJECTED:
        _release(request, actor)
        return _outcome(request, replayed=True)
    if request.state != State.PENDING:
        raise RequestNotPending(f"Request {request.pk} is {request.state}.")
    updated = _close(request, actor, state=State.REJECTED, action=Action.ADJUSTMENT_REJECTED, reason=reason)
    request.refresh_from_db()
    if not updated and request.state != State.REJECTED:
        raise RequestNotPending(f"Request {request.pk} is {request.state}.")
    _release(request, actor)
    return _outcome(request, replayed=not updated)


@transaction.atomic
def _close(request: AdjustmentRequest, actor: Actor, *, state: str, action: Action, reason: str) -> bool:
    updated = AdjustmentRequest.objects.filter(pk=request.pk, state=State.PENDING).update(
        state=state, decided_by=actor.label, decided_by_user_id=actor.user_id, decided_at=timezone.now(),
        decision_reason=reason)
    if updated:
        audit_record(actor=actor, action=action, target=f"request:{request.pk}",
                     details={"reason": reason, "released": request.hold_id is not None})
        _event(request, state)
        customer_notify(request_id=request.pk, event=state)
    return bool(updated)


def _release(request: AdjustmentRequest, actor: Actor) -> None:
    if request.hold_id is None:
        return
    ledger_hold_release(hold_request_id=request.ledger_key("hold"), request_id=request.ledger_key("release"),
                        comment=f"released: {request.decision_reason or request.state}", actor=actor)
    balance_moved(customer_id=request.balance.customer.customer_id, balance_id=request.balance.balance_id)


# --- the sweep (celery beat) -----------------------------------------------------------------

@dataclass(frozen=True)
class Swept:
    expired: int
    finished: int
    released: int
    resumed: int


def adjustment_requests_sweep(*, now: dt.datetime | None = None) -> Swept:
    """Expire pending requests past B2B_REQUEST_EXPIRY (releasing their holds), and finish what
    an interrupted process left half done: approved but not posted, closed but still holding,
    set up but never made pending."""
    now = now or timezone.now()
    system = Actor.system()
    expired = finished = released = resumed = 0
    for request in AdjustmentRequest.objects.select_related("balance__customer").filter(
            state=State.PENDING, expires_at__lte=now):
        if _close(request, system, state=State.EXPIRED, action=Action.ADJUSTMENT_EXPIRED,
                  reason=f"not decided within {dt.timedelta(seconds=settings.B2B_REQUEST_EXPIRY)}"):
            request.refresh_from_db()
            _release(request, system)
            expired += 1
    for request in AdjustmentRequest.objects.select_related("balance__customer").filter(
            state=State.APPROVED, decided_at__lte=now - dt.timedelta(minutes=1)):
        _try(_finish, request, replayed=True)
        finished += 1
    for request in AdjustmentRequest.objects.select_related("balance__customer").filter(
            state__in=[State.REJECTED, State.EXPIRED], hold__isnull=False, hold__reversals__isnull=True):
        _try(_release, request, system)
        released += 1
    for request in AdjustmentRequest.objects.select_related("balance__customer").filter(
            state=State.NEW, created_at__lte=now - STALE_AFTER):
        _try(_set_up, request, actor=Actor(label=request.requested_by, user_id=request.requested_by_user_id),
             replayed=True)
        resumed += 1
    return Swept(expired=expired, finished=finished, released=released, resumed=resumed)


def _try(step, *args, **kwargs) -> None:
    try:
        step(*args, **kwargs)
    except DomainError as exc:  # the next sweep tries again; staff see the request in the queue
        log.error("adjustment request sweep: %s failed: %s", step.__name__, exc.message)
