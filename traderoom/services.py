"""Opening the trading room for an end user: a one-time session URL from the gateway, creating
the customer there on their first visit (contract/README.md of the upstream contract: "User
opens Traderoom for the first time"; our gateway-api.yaml)."""

from __future__ import annotations

from balances.models import Balance
from customers.models import Customer
from quadcode import gateway
from quadcode.gateway import Answer
from quadcode.services import gateway_customer_ensured
from quadcode.visitor import Visitor


def traderoom_session_open(*, customer: Customer, balance: Balance, visitor: Visitor) -> Answer:
    """A one-time trading-room URL for this balance, or why there is none."""
    session = {"balance_id": balance.balance_id, "balance_currency_code": balance.currency,
               "balance_type": balance.type, "country_code": visitor.country_code, "ip": visitor.ip,
               "locale": visitor.locale, "site_domain": visitor.site_domain}
    return gateway_customer_ensured(customer=customer, visitor=visitor,
                                    ask=lambda: gateway.session_create(customer.customer_id, session))
