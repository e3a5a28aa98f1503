from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_ipv46_address
from django.db import IntegrityError, transaction

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from customers.errors import CustomerExists, CustomerInvalid, CustomerNotFound
from customers.ids import EXTERNAL_ID_RULE, is_country_code, is_external_id
from customers.models import Customer


@dataclass(frozen=True)
class BlockChanged:
    customer: Customer
    changed: bool


@transaction.atomic
def customer_create(
    *,
    customer_id: str,
    email: str,
    country_code: str,
    username: str | None = None,
    password: str | None = None,
    first_name: str = "",
    middle_name: str = "",
    last_name: str = "",
    phone_number: str = "",
    account_timezone: str = "",
    date_of_birth: dt.date | None = None,
    signup_ip: str | None = None,
) -> Customer:
    if not is_external_id(customer_id):
        raise CustomerInvalid(f"customer_id must be {EXTERNAL_ID_RULE}")
    try:
        validate_email(email)
    except ValidationError:
        raise CustomerInvalid(f"{email!r} is not a valid email address.") from None
    country_code = country_code.upper()
    if not is_country_code(country_code):
        raise CustomerInvalid("country_code must be an ISO 3166-1 alpha-2 code such as DE.")
    if signup_ip is not None:
        try:
            validate_ipv46_address(signup_ip)
        except ValidationError:
            raise CustomerInvalid(f"{signup_ip!r} is not an IP address.") from None
    if (username is None) != (password is None):
        raise CustomerInvalid("username and password go together.")
    user = None
    try:
        # Savepoint: a duplicate must roll back only the failed insert, not the caller's transaction.
        with transaction.atomic():
            if username is not None:
                user = get_user_model().objects.create_user(username=username, email=email, password=password)
            return Customer.objects.create(
                customer_id=customer_id, user=user, email=email, country_code=country_code,
                first_name=first_name, middle_name=middle_name, last_name=last_name,
                phone_number=phone_number, account_timezone=account_timezone, date_of_birth=date_of_birth,
                signup_ip=signup_ip,
            )
    except IntegrityError:
        if Customer.objects.filter(customer_id=customer_id).exists():
            raise CustomerExists(f"Customer {customer_id} already exists.") from None
        raise CustomerExists(f"User {username} already exists.") from None


@transaction.atomic
def customer_block(*, customer_id: str, actor: Actor, blocked: bool = True, reason: str = "") -> BlockChanged:
    """Block (or unblock) a customer, recording who did it and why; a repeat changes nothing and
    records nothing."""
    customer = Customer.objects.select_for_update().filter(customer_id=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    changed = customer.is_blocked != blocked
    if changed:
        customer.is_blocked = blocked
        customer.save(update_fields=["is_blocked", "updated_at"])
        audit_record(actor=actor, action=Action.CUSTOMER_BLOCKED if blocked else Action.CUSTOMER_UNBLOCKED,
                     target=f"customer:{customer_id}", details={"reason": reason.strip()})
    return BlockChanged(customer=customer, changed=changed)


# What staff may edit on a customer's page; the id, the login and the block have their own paths.
EDITABLE_FIELDS = ("email", "country_code", "first_name", "middle_name", "last_name", "phone_number",
                   "account_timezone", "date_of_birth")


def _comparable(value):
    return value.isoformat() if isinstance(value, dt.date) else value


@transaction.atomic
def customer_update(*, customer_id: str, actor: Actor, changes: dict) -> Customer:
    """Edit a customer's profile, recording each changed field before and after."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise CustomerInvalid(f"These fields cannot be edited here: {', '.join(sorted(unknown))}.")
    customer = Customer.objects.select_for_update().filter(customer_id=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    if "email" in changes:
        try:
            validate_email(changes["email"])
        except ValidationError:
            raise CustomerInvalid(f"{changes['email']!r} is not a valid email address.") from None
    if "country_code" in changes:
        changes = {**changes, "country_code": str(changes["country_code"]).upper()}
        if not is_country_code(changes["country_code"]):
            raise CustomerInvalid("country_code must be an ISO 3166-1 alpha-2 code such as DE.")
    diff = {name: {"before": _comparable(getattr(customer, name)), "after": _comparable(value)}
            for name, value in changes.items() if getattr(customer, name) != value}
    if diff:
        for name in diff:
            setattr(customer, name, changes[name])
        customer.save(update_fields=[*diff, "updated_at"])
        audit_record(actor=actor, action=Action.CUSTOMER_CHANGED, target=f"customer:{customer_id}",
                     details={"changed": diff})
    return customer
