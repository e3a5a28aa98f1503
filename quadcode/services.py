"""What the other apps ask of the gateway: telling it of blocks, registering customers ahead of
their first visit, pushing balance states, and keeping the allowed-countries list."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from b2b_server.errors import DomainError
from customers.models import Customer
from customers.selectors import customer_profile, personal_seal
from customers.services import BlockChanged, customer_block, customer_create
from quadcode import gateway
from quadcode.gateway import Outcome
from quadcode.models import AllowedCountry, GatewayCall
from quadcode.outbox import CREATE_CUSTOMER_BODY, gateway_call_queue
from quadcode.visitor import Visitor

log = logging.getLogger(__name__)


def customer_payload(customer: Customer, visitor: Visitor) -> dict:
    """The body of POST /v1/b2b-gateway/customers: the required fields and every profile field we hold."""
    profile = customer_profile(customer=customer)
    payload = {"customer_id": customer.customer_id, "country_code": visitor.country_code, "ip": visitor.ip,
               "email": profile.email}
    optional = {name: value for name, value in profile.personal().items() if name != "email"}
    payload.update({name: value for name, value in optional.items() if value})
    return payload


def gateway_customer_ensured(*, customer: Customer, visitor: Visitor, ask):
    """`ask()` a customer's call of the gateway; when it answers "unknown customer" (404), create
    the customer there (201, or 409: created meanwhile by a twin) and ask once more — the
    contract's first-visit sequence, for any per-customer call."""
    answer = ask()
    if answer.outcome is not Outcome.NOT_FOUND:
        return answer
    created = gateway.customer_create(customer_payload(customer, visitor))
    if created.outcome not in (Outcome.CREATED, Outcome.EXISTS):
        return created
    answer = ask()
    if answer.outcome is Outcome.NOT_FOUND:
        log.error("gateway: customer %s still unknown after its creation", customer.customer_id)
        return gateway.Answer(Outcome.UNAVAILABLE)
    return answer


def api_session_open(*, customer: Customer, visitor: Visitor, user_agent: str, platform_id: int):
    """An API session (ssid) for a customer who trades through a program."""
    payload = {"country_code": visitor.country_code, "ip": visitor.ip, "user_agent": user_agent,
               "platform_id": platform_id}
    return gateway_customer_ensured(customer=customer, visitor=visitor,
                                    ask=lambda: gateway.api_session_create(customer.customer_id, payload))


@transaction.atomic
def customer_block_propagated(*, customer_id: str, actor: Actor, blocked: bool = True,
                              reason: str = "") -> BlockChanged:
    """Block or unblock a customer here (recorded in the audit trail) and, for a block, owe the
    gateway the same news. The contract has no unblock call: an unblock is ours alone.
    """
    result = customer_block(customer_id=customer_id, actor=actor, blocked=blocked, reason=reason)
    if result.changed and blocked:
        gateway_call_queue(kind=GatewayCall.Kind.BLOCK, customer_id=customer_id)
    return result


@transaction.atomic
def customer_register(*, signup_ip: str | None = None, **fields) -> Customer:
    """Create a customer and, when their sign-up address is known, pre-register them at the
    gateway (POST /v1/b2b-gateway/customers; 409 = already there) so that their first visit to
    the trading room takes one round trip. Without an address there is no `ip` to send: the
    first visit registers them with the visitor's own."""
    customer = customer_create(signup_ip=signup_ip, **fields)
    if signup_ip:
        visitor = Visitor(country_code=customer.country_code, ip=signup_ip, locale="", site_domain="")
        # Kept sealed under the customer's key until it is sent (quadcode.outbox), and scrubbed
        # B2B_OUTBOX_RETENTION_DAYS after: the body is nothing but personal data.
        sealed = personal_seal(customer=customer, purpose=CREATE_CUSTOMER_BODY,
                               value=customer_payload(customer, visitor))
        gateway_call_queue(kind=GatewayCall.Kind.CREATE_CUSTOMER, customer_id=customer.customer_id,
                           payload={"sealed": sealed})
    return customer


def balance_moved(*, customer_id: str, balance_id: str) -> None:
    """Tell the gateway a balance changed by our own hand (a staff movement, a hold), when
    QUADCODE_BALANCE_PUSH is on. Called after the ledger write committed (it is durable: no
    transaction of ours holds the balance row); the push sends the state at delivery time, so
    one pending push per balance carries every movement before it."""
    if settings.QUADCODE_BALANCE_PUSH:
        _balance_push_queue(customer_id=customer_id, balance_id=balance_id)


@transaction.atomic
def _balance_push_queue(*, customer_id: str, balance_id: str) -> None:
    """Owe the gateway this balance's state, unless a push not yet started will carry it anyway."""
    pending = GatewayCall.objects.filter(kind=GatewayCall.Kind.BALANCE_PUSH, payload__balance_id=balance_id,
                                         delivered_at__isnull=True, leased_until__isnull=True)
    if not pending.exists():
        gateway_call_queue(kind=GatewayCall.Kind.BALANCE_PUSH, customer_id=customer_id,
                           payload={"balance_id": balance_id})


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


class AvailableAmountUnknown(DomainError):
    # Never guessed: money that may be a position's collateral stays where it is.
    code, http_status = "available_amount_unknown", 503
    default_message = "Cannot confirm the available amount now; try again."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "30"}


def withdrawable_amount(*, customer_id: str, balance_id: str) -> Decimal | None:
    """The most the gateway lets the customer withdraw now (margin draft), or None when the
    gateway has no margin trading (404) or none is configured: then the balance is the limit.
    Anything else — another status, a timeout, a refused connection — is AvailableAmountUnknown."""
    if not settings.QUADCODE_API_URL:
        return None
    answer = gateway.available_withdrawal_amount(customer_id, balance_id)
    if answer.outcome is Outcome.NOT_FOUND:
        return None
    if answer.outcome is not Outcome.OK:
        raise AvailableAmountUnknown()
    return Decimal(answer.data["amount"])
