"""What the customer's pages show: their balances with what is held, their requests, entries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backoffice.models import AdjustmentRequest
from balances.models import Balance
from balances.selectors import balance_held, balance_recent_entries, customer_balances
from customers.models import Customer


@dataclass(frozen=True)
class BalanceView:
    balance: Balance
    available: Decimal  # what Quadcode sees and the customer may use
    held: Decimal  # set aside for pending withdrawals
    total: Decimal
    entries: list


def account_overview(*, customer: Customer, entries: int = 20) -> list[BalanceView]:
    views = []
    for balance in customer_balances(customer_id=customer.customer_id):
        held = balance_held(balance=balance)
        views.append(BalanceView(balance=balance, available=balance.amount, held=held, total=balance.amount + held,
                                 entries=balance_recent_entries(balance=balance, limit=entries)))
    return views


def customer_requests(*, customer: Customer, limit: int = 20) -> list[AdjustmentRequest]:
    """Their own requests and every deposit to them, newest first."""
    return list(AdjustmentRequest.objects.select_related("balance")
                .filter(balance__customer=customer).exclude(state=AdjustmentRequest.State.NEW)
                .filter(requested_by=f"customer:{customer.customer_id}")
                .order_by("-id")[:limit])
