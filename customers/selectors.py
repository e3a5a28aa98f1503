from __future__ import annotations

from customers.errors import CustomerNotFound
from customers.ids import is_external_id
from customers.models import Customer


def customer_get(*, customer_id: str) -> Customer:
    customer = Customer.objects.filter(customer_id=customer_id).first() if is_external_id(customer_id) else None
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    return customer
