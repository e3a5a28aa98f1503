"""Opening the trading room for an end user: a one-time session URL from the gateway, creating
the customer there on their first visit (contract/README.md of the upstream contract: "User
opens Traderoom for the first time"; our gateway-api.yaml)."""

from __future__ import annotations

import logging

from balances.models import Balance
from customers.models import Customer
from quadcode import gateway
from quadcode.gateway import Answer, Outcome
from quadcode.services import Visitor, customer_payload

log = logging.getLogger(__name__)


def traderoom_session_open(*, customer: Customer, balance: Balance, visitor: Visitor) -> Answer:
    """A one-time trading-room URL for this balance, or why there is none."""
    session = {"balance_id": balance.balance_id, "balance_currency_code": balance.currency,
               "balance_type": balance.type, "country_code": visitor.country_code, "ip": visitor.ip,
               "locale": visitor.locale, "site_domain": visitor.site_domain}
    answer = gateway.session_create(customer.customer_id, session)
    if answer.outcome is not Outcome.NOT_FOUND:
        return answer
    created = gateway.customer_create(customer_payload(customer, visitor))
    if created.outcome not in (Outcome.CREATED, Outcome.EXISTS):  # 409: created meanwhile, by a twin
        return created
    answer = gateway.session_create(customer.customer_id, session)
    if answer.outcome is Outcome.NOT_FOUND:
        log.error("gateway: customer %s still unknown to the session call after its creation", customer.customer_id)
        return Answer(Outcome.UNAVAILABLE)
    return answer
