"""The outbox of calls we owe Quadcode's gateway (blocks, pre-registrations, balance pushes).

A call is recorded in the caller's transaction (a rolled-back change leaves none) and handed to
Celery after the commit; a failed call is retried with backoff until it lands, and a periodic
sweep picks up anything whose message was lost. Without a broker (the demo) the call is tried
in-process after the commit, and a failure waits for the next sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from b2b_server.celery import app as celery_app
from balances.selectors import balance_state
from customers.errors import CustomerNotFound
from customers.pii import PersonalDataUnavailable
from customers.selectors import customer_get, personal_unseal
from quadcode import gateway
from quadcode.gateway import Answer, Outcome
from quadcode.models import GatewayCall

log = logging.getLogger(__name__)
_LEASE = dt.timedelta(minutes=2)
# The Celery task that delivers one call (quadcode.tasks); named here so that queueing needs no
# import of the task module, which imports this one.
DELIVER_TASK = "quadcode.tasks.gateway_call_deliver"
# The sealing purpose of a pre-registration's body (payload {"sealed": ...}, customers.pii).
CREATE_CUSTOMER_BODY = "gateway:create_customer"


def gateway_call_queue(*, kind: str, customer_id: str, payload: dict | None = None) -> GatewayCall:
    """Record a call owed to the gateway in the caller's transaction; send it after the commit."""
    call = GatewayCall.objects.create(kind=kind, customer_id=customer_id, payload=payload or {})
    transaction.on_commit(lambda: _dispatch(call.pk))
    return call


def _dispatch(call_id: int) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            gateway_call_deliver(call_id=call_id)
        except Exception:  # the commit stands; the sweep tries again
            log.exception("gateway call %s: delivery failed; the sweep will retry it", call_id)
        return
    celery_app.send_task(DELIVER_TASK, args=[call_id])


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    retry_in: float | None = None  # seconds until the next attempt, when it failed


# Done: sent (OK; CREATED or EXISTS for a registration), or nothing to do there (NOT_FOUND: the
# customer never reached the gateway, there is nothing to block), or refused for good (a
# registration's country or payload; the first visit then tells the user why). The value is
# what stays recorded on the call.
_FINAL = {Outcome.OK: "", Outcome.CREATED: "", Outcome.EXISTS: "", Outcome.NOT_FOUND: "",
          Outcome.COUNTRY_RESTRICTED: "country restricted", Outcome.CURRENCY_RESTRICTED: "currency restricted",
          Outcome.REJECTED: "rejected"}
_ERASED = "customer erased before delivery"


def gateway_call_deliver(*, call_id: int) -> Delivery:
    """Try one pending call once. No lock is held during the HTTP call: a short lease keeps a
    second worker from sending the same call at the same moment."""
    now = timezone.now()
    claimed = (GatewayCall.objects.filter(pk=call_id, delivered_at__isnull=True)
               .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
               .update(leased_until=now + _LEASE, attempts=F("attempts") + 1))
    if not claimed:
        return Delivery(delivered=GatewayCall.objects.filter(pk=call_id, delivered_at__isnull=False).exists())
    call = GatewayCall.objects.get(pk=call_id)
    answer = _send(call)
    if answer is None or answer.outcome in _FINAL:
        note = _ERASED if answer is None else _FINAL[answer.outcome]
        if answer is not None and answer.outcome is Outcome.REJECTED:
            note = gateway.redacted(f"rejected: {answer.data}")
        GatewayCall.objects.filter(pk=call_id).update(delivered_at=timezone.now(), leased_until=None, last_error=note)
        return Delivery(delivered=True)
    retry_in = min(settings.B2B_GATEWAY_RETRY_BASE * 2 ** (call.attempts - 1), settings.B2B_GATEWAY_RETRY_MAX)
    GatewayCall.objects.filter(pk=call_id).update(
        leased_until=None, next_attempt_at=timezone.now() + dt.timedelta(seconds=retry_in),
        last_error=f"{answer.outcome.value} (attempt {call.attempts})")
    log.warning("gateway call %s %s for %s failed (attempt %s); retry in %.1fs", call_id, call.kind,
                call.customer_id, call.attempts, retry_in)
    return Delivery(delivered=False, retry_in=retry_in)


def _send_balance_push(call: GatewayCall) -> Answer:
    # The state now, not at queueing time: a delayed push never overwrites a newer one.
    state = balance_state(balance_id=call.payload["balance_id"])
    return gateway.balance_push(call.customer_id, state.balance_id, amount=state.amount, currency=state.currency,
                                updated_at=state.updated_at_us)


def _send_create_customer(call: GatewayCall) -> Answer | None:
    try:
        body = personal_unseal(customer=customer_get(customer_id=call.customer_id), purpose=CREATE_CUSTOMER_BODY,
                               token=call.payload["sealed"])
    except (PersonalDataUnavailable, CustomerNotFound, KeyError):
        return None  # forgotten (or scrubbed) before it went out: nothing to send
    return gateway.customer_create(body)


_SENDERS = {
    GatewayCall.Kind.BLOCK: lambda call: gateway.customer_block(call.customer_id),
    GatewayCall.Kind.CREATE_CUSTOMER: _send_create_customer,
    GatewayCall.Kind.BALANCE_PUSH: _send_balance_push,
}


def _send(call: GatewayCall) -> Answer | None:
    return _SENDERS[GatewayCall.Kind(call.kind)](call)


@dataclass(frozen=True)
class Scrubbed:
    calls: int


def gateway_calls_forget(*, customer_id: str) -> Scrubbed:
    """An erased customer's pre-registrations: bodies emptied; one not yet sent is dropped."""
    calls = GatewayCall.objects.filter(customer_id=customer_id, kind=GatewayCall.Kind.CREATE_CUSTOMER)
    calls.filter(delivered_at__isnull=True).update(delivered_at=timezone.now(), leased_until=None,
                                                   last_error=_ERASED)
    return Scrubbed(calls=calls.exclude(payload={}).update(payload={}))


def gateway_payloads_expire(*, older_than: dt.timedelta) -> Scrubbed:
    """Retention: the bodies of calls delivered more than `older_than` ago lose their personal
    fields (a pre-registration's body is nothing else; a block's or a push's holds none)."""
    cutoff = timezone.now() - older_than
    expired = (GatewayCall.objects.filter(kind=GatewayCall.Kind.CREATE_CUSTOMER, delivered_at__lt=cutoff)
               .exclude(payload={}))
    return Scrubbed(calls=expired.update(payload={}))
