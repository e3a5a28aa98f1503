"""What the trading room and the operators ask of the gateway.

- Opening a trading session for an end user, creating them at the gateway on first visit
  (../shared/contract/README.md, "User opens Traderoom for the first time").
- The outbox of calls owed to the gateway (blocks, pre-registrations, balance pushes): queued in
  the caller's transaction, delivered after the commit by Celery, retried until they land.
- The allowed-countries list.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from balances.models import Balance, Kind
from balances.selectors import balance_state
from balances.services import Posted, ledger_adjust
from customers.models import Customer
from customers.services import BlockChanged, customer_block, customer_create
from traderoom import gateway
from traderoom.gateway import Answer, Outcome
from traderoom.models import AllowedCountry, GatewayCall

log = logging.getLogger(__name__)
_LEASE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Visitor:
    """Where the end user is, as the gateway wants it."""

    country_code: str
    ip: str
    locale: str
    site_domain: str


def _customer_payload(customer: Customer, visitor: Visitor) -> dict:
    payload = {"customer_id": customer.customer_id, "country_code": visitor.country_code, "ip": visitor.ip,
               "email": customer.email}
    optional = {"first_name": customer.first_name, "middle_name": customer.middle_name,
                "last_name": customer.last_name, "phone_number": customer.phone_number,
                "account_timezone": customer.account_timezone,
                "date_of_birth": customer.date_of_birth.isoformat() if customer.date_of_birth else ""}
    payload.update({name: value for name, value in optional.items() if value})
    return payload


def traderoom_session_open(*, customer: Customer, balance: Balance, visitor: Visitor) -> Answer:
    """A one-time trading-room URL for this balance, or why there is none."""
    session = {"balance_id": balance.balance_id, "balance_currency_code": balance.currency,
               "balance_type": balance.type, "country_code": visitor.country_code, "ip": visitor.ip,
               "locale": visitor.locale, "site_domain": visitor.site_domain}
    answer = gateway.session_create(customer.customer_id, session)
    if answer.outcome is not Outcome.NOT_FOUND:
        return answer
    created = gateway.customer_create(_customer_payload(customer, visitor))
    if created.outcome not in (Outcome.CREATED, Outcome.EXISTS):  # 409: created meanwhile, by a twin
        return created
    answer = gateway.session_create(customer.customer_id, session)
    if answer.outcome is Outcome.NOT_FOUND:
        log.error("gateway: customer %s still unknown to the session call after its creation", customer.customer_id)
        return gateway.Answer(Outcome.UNAVAILABLE)
    return answer


@transaction.atomic
def customer_block_propagated(*, customer_id: str, blocked: bool = True) -> BlockChanged:
    """Block or unblock a customer here and, for a block, owe the gateway the same news.

    The contract has no unblock call: an unblock is ours alone.
    """
    result = customer_block(customer_id=customer_id, blocked=blocked)
    if result.changed and blocked:
        gateway_call_queue(kind=GatewayCall.Kind.BLOCK, customer_id=customer_id)
    return result


def gateway_call_queue(*, kind: str, customer_id: str, payload: dict | None = None) -> GatewayCall:
    """Record a call owed to the gateway in the caller's transaction; send it after the commit."""
    from traderoom.tasks import gateway_call_deliver

    call = GatewayCall.objects.create(kind=kind, customer_id=customer_id, payload=payload or {})
    transaction.on_commit(lambda: gateway_call_deliver.delay(call.pk))
    return call


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    retry_in: float | None = None  # seconds until the next attempt, when it failed


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
    # Done: sent (OK; CREATED or EXISTS for a registration), or nothing to do there (NOT_FOUND:
    # the customer never reached the gateway, there is nothing to block), or refused for good
    # (a registration's country or payload; the first visit then tells the user why).
    final = {Outcome.OK: "", Outcome.CREATED: "", Outcome.EXISTS: "", Outcome.NOT_FOUND: "",
             Outcome.COUNTRY_RESTRICTED: "country restricted", Outcome.CURRENCY_RESTRICTED: "currency restricted",
             Outcome.REJECTED: gateway.redacted(f"rejected: {answer.data}")}
    if answer.outcome in final:
        GatewayCall.objects.filter(pk=call_id).update(delivered_at=timezone.now(), leased_until=None,
                                                      last_error=final[answer.outcome])
        return Delivery(delivered=True)
    retry_in = min(settings.B2B_GATEWAY_RETRY_BASE * 2 ** (call.attempts - 1), settings.B2B_GATEWAY_RETRY_MAX)
    GatewayCall.objects.filter(pk=call_id).update(
        leased_until=None, next_attempt_at=timezone.now() + dt.timedelta(seconds=retry_in),
        last_error=f"{answer.outcome.value} (attempt {call.attempts})")
    log.warning("gateway call %s %s for %s failed (attempt %s); retry in %.1fs", call_id, call.kind,
                call.customer_id, call.attempts, retry_in)
    return Delivery(delivered=False, retry_in=retry_in)


def _send(call: GatewayCall) -> Answer:
    if call.kind == GatewayCall.Kind.CREATE_CUSTOMER:
        return gateway.customer_create(call.payload)
    if call.kind == GatewayCall.Kind.BALANCE_PUSH:
        # The state now, not at queueing time: a delayed push never overwrites a newer one.
        state = balance_state(balance_id=call.payload["balance_id"])
        return gateway.balance_push(call.customer_id, state.balance_id, amount=state.amount,
                                    currency=state.currency, updated_at=state.updated_at_us)
    return gateway.customer_block(call.customer_id)


def gateway_calls_due() -> list[int]:
    """Pending calls whose next attempt is due and that nobody is working on."""
    now = timezone.now()
    return list(GatewayCall.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=now)
                .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
                .order_by("next_attempt_at").values_list("pk", flat=True)[:500])


@transaction.atomic
def allowed_countries_refresh() -> bool:
    """Replace the stored list with the gateway's; on failure keep the old one."""
    answer = gateway.allowed_countries()
    if answer.outcome is not Outcome.OK:
        log.warning("allowed countries: the gateway did not answer; keeping the stored list")
        return False
    now = timezone.now()
    AllowedCountry.objects.all().delete()
    AllowedCountry.objects.bulk_create(
        AllowedCountry(short_code=c["short_code"].upper(), iso_code=str(c.get("iso_code", ""))[:3],
                       name=str(c.get("name", ""))[:100], fetched_at=now)
        for c in {c["short_code"].upper(): c for c in answer.data["countries"]}.values())
    return True


def country_known_refused(country_code: str) -> bool:
    """True when a fresh list from the gateway exists and does not name this country. Without a
    list (never fetched, or older than B2B_ALLOWED_COUNTRIES_MAX_AGE) nothing is known."""
    oldest = timezone.now() - dt.timedelta(seconds=settings.B2B_ALLOWED_COUNTRIES_MAX_AGE)
    countries = AllowedCountry.objects.filter(fetched_at__gte=oldest)
    return countries.exists() and not countries.filter(short_code=country_code).exists()


@transaction.atomic
def balance_adjust_propagated(*, balance_id: str, kind: Kind, amount, reason: str, user_id: int) -> Posted:
    """An admin adjustment and, with QUADCODE_BALANCE_PUSH on, the balance's new state pushed to
    the gateway. Pushes coalesce: one pending push per balance sends the newest state."""
    posted = ledger_adjust(balance_id=balance_id, kind=kind, amount=amount, reason=reason, user_id=user_id)
    if settings.QUADCODE_BALANCE_PUSH:
        pending = GatewayCall.objects.filter(kind=GatewayCall.Kind.BALANCE_PUSH, payload__balance_id=balance_id,
                                             delivered_at__isnull=True, leased_until__isnull=True)
        if not pending.exists():
            gateway_call_queue(kind=GatewayCall.Kind.BALANCE_PUSH, customer_id=posted.customer_id,
                               payload={"balance_id": balance_id})
    return posted


@transaction.atomic
def customer_register(*, signup_ip: str | None = None, **fields) -> Customer:
    """Create a customer and, when their sign-up address is known, pre-register them at the
    gateway (POST /v1/b2b-gateway/customers; 409 = already there) so that their first visit to
    the trading room takes one round trip. Without an address there is no `ip` to send: the
    first visit registers them with the visitor's own."""
    customer = customer_create(signup_ip=signup_ip, **fields)
    if signup_ip:
        visitor = Visitor(country_code=customer.country_code, ip=signup_ip, locale="", site_domain="")
        gateway_call_queue(kind=GatewayCall.Kind.CREATE_CUSTOMER, customer_id=customer.customer_id,
                           payload=_customer_payload(customer, visitor))
    return customer
