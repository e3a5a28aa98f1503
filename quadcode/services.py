"""What the other apps ask of the gateway: telling it of blocks, registering customers ahead of
their first visit, pushing balance states, and keeping the allowed-countries list."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from balances.models import Kind
from balances.services import Posted, ledger_adjust
from customers.models import Customer
from customers.services import BlockChanged, customer_block, customer_create
from quadcode import gateway
from quadcode.gateway import Outcome
from quadcode.models import AllowedCountry, GatewayCall
from quadcode.outbox import gateway_call_queue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visitor:
    """Where the end user is, as the gateway wants it."""

    country_code: str
    ip: str
    locale: str
    site_domain: str


def customer_payload(customer: Customer, visitor: Visitor) -> dict:
    """The body of POST /v1/b2b-gateway/customers: the required fields and every profile field we hold."""
    payload = {"customer_id": customer.customer_id, "country_code": visitor.country_code, "ip": visitor.ip,
               "email": customer.email}
    optional = {"first_name": customer.first_name, "middle_name": customer.middle_name,
                "last_name": customer.last_name, "phone_number": customer.phone_number,
                "account_timezone": customer.account_timezone,
                "date_of_birth": customer.date_of_birth.isoformat() if customer.date_of_birth else ""}
    payload.update({name: value for name, value in optional.items() if value})
    return payload


@transaction.atomic
def customer_block_propagated(*, customer_id: str, blocked: bool = True) -> BlockChanged:
    """Block or unblock a customer here and, for a block, owe the gateway the same news.

    The contract has no unblock call: an unblock is ours alone.
    """
    result = customer_block(customer_id=customer_id, blocked=blocked)
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
        gateway_call_queue(kind=GatewayCall.Kind.CREATE_CUSTOMER, customer_id=customer.customer_id,
                           payload=customer_payload(customer, visitor))
    return customer


def balance_adjust_propagated(*, balance_id: str, kind: Kind, amount: Decimal, reason: str, user_id: int) -> Posted:
    """A staff adjustment and, with QUADCODE_BALANCE_PUSH on, the balance's new state pushed to
    the gateway. The ledger write commits on its own (it is durable: no transaction of ours
    holds the balance row); the push is queued after it and sends the state at delivery time,
    so one pending push per balance carries every adjustment before it."""
    posted = ledger_adjust(balance_id=balance_id, kind=kind, amount=amount, reason=reason, user_id=user_id)
    if settings.QUADCODE_BALANCE_PUSH:
        balance_push_queue(customer_id=posted.customer_id, balance_id=balance_id)
    return posted


@transaction.atomic
def balance_push_queue(*, customer_id: str, balance_id: str) -> None:
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
