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
from quadcode import gateway
from quadcode.gateway import Answer, Outcome
from quadcode.models import GatewayCall

log = logging.getLogger(__name__)
_LEASE = dt.timedelta(minutes=2)
# The Celery task that delivers one call (quadcode.tasks); named here so that queueing needs no
# import of the task module, which imports this one.
DELIVER_TASK = "quadcode.tasks.gateway_call_deliver"


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
    if answer.outcome in _FINAL:
        note = _FINAL[answer.outcome]
        if answer.outcome is Outcome.REJECTED:
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


_SENDERS = {
    GatewayCall.Kind.BLOCK: lambda call: gateway.customer_block(call.customer_id),
    GatewayCall.Kind.CREATE_CUSTOMER: lambda call: gateway.customer_create(call.payload),
    GatewayCall.Kind.BALANCE_PUSH: _send_balance_push,
}


def _send(call: GatewayCall) -> Answer:
    return _SENDERS[GatewayCall.Kind(call.kind)](call)
