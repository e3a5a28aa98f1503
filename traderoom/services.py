"""Opening a trading session for an end user, creating them at the gateway on first visit
(../shared/contract/README.md, "User opens Traderoom for the first time")."""

from __future__ import annotations

from dataclasses import dataclass

from balances.models import Balance
from customers.models import Customer
from traderoom import gateway
from traderoom.gateway import Answer, Outcome


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
        return gateway.Answer(Outcome.UNAVAILABLE)
    return answer
