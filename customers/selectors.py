from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from customers import pii
from customers.errors import CustomerNotFound
from customers.ids import is_external_id
from customers.models import Customer

# The personal fields, as one sealed document per customer (Customer.personal).
PERSONAL_FIELDS = ("email", "first_name", "middle_name", "last_name", "phone_number", "account_timezone",
                   "date_of_birth")
PERSONAL = "personal"  # the sealing purposes: each binds a sealed value to what it is
SIGNUP_IP = "signup_ip"


@dataclass(frozen=True)
class Profile:
    """What we know of a person, in the clear; every field empty once they were erased."""

    email: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    account_timezone: str = ""
    date_of_birth: dt.date | None = None
    signup_ip: str = ""
    erased: bool = False

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    def personal(self) -> dict:
        """The sealed document's content: strings only, "" for what is not known."""
        values = {name: getattr(self, name) for name in PERSONAL_FIELDS}
        values["date_of_birth"] = self.date_of_birth.isoformat() if self.date_of_birth else ""
        return values


def customer_get(*, customer_id: str) -> Customer:
    customer = (Customer.objects.select_related("data_key").filter(customer_id=customer_id).first()
                if is_external_id(customer_id) else None)
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    return customer


def customer_find_by_email(*, email: str):
    """Customers with this email (exact, case-insensitive), found by its keyed hash under every
    master key, so that a lookup during a key rotation finds them too."""
    return Customer.objects.filter(email_hash__in=pii.email_hashes(email))


def data_key_open(*, customer: Customer) -> bytes:
    """The customer's plain data key; PersonalDataUnavailable once they were erased."""
    key = customer.data_key
    return pii.unwrap(master_name=key.master, key_id=str(key.key_id), wrapped=key.wrapped)


def customer_profile(*, customer: Customer) -> Profile:
    if customer.erased_at is not None:
        return Profile(erased=True)
    key = data_key_open(customer=customer)
    values = pii.unseal_json(key, customer.customer_id, PERSONAL, customer.personal)
    born = values.pop("date_of_birth", "")
    return Profile(**{name: values.get(name, "") for name in PERSONAL_FIELDS if name != "date_of_birth"},
                   date_of_birth=dt.date.fromisoformat(born) if born else None,
                   signup_ip=pii.unseal(key, customer.customer_id, SIGNUP_IP, customer.signup_ip))


def personal_seal(*, customer: Customer, purpose: str, value) -> str:
    """A copy of personal data that another table keeps (a gateway call's body, an audit
    record's before/after), sealed under the customer's key: erasing them makes it unreadable."""
    return pii.seal_json(data_key_open(customer=customer), customer.customer_id, purpose, value)


def personal_unseal(*, customer: Customer, purpose: str, token: str):
    return pii.unseal_json(data_key_open(customer=customer), customer.customer_id, purpose, token)
