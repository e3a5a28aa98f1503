from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_ipv46_address
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from customers import pii
from customers.errors import CustomerErased, CustomerExists, CustomerInvalid, CustomerNotFound
from customers.ids import EXTERNAL_ID_RULE, is_country_code, is_external_id
from customers.models import Customer, DataKey
from customers.selectors import PERSONAL, SIGNUP_IP, Profile, customer_profile, data_key_open
from events.services import event_record


@dataclass(frozen=True)
class BlockChanged:
    customer: Customer
    changed: bool


def _profile_checked(*, email: str, date_of_birth, signup_ip: str | None, **names) -> Profile:
    try:
        if not isinstance(email, str) or len(email) > PERSONAL_MAX_LENGTH["email"]:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise CustomerInvalid(f"{str(email)[:300]!r} is not a valid email address.") from None
    if signup_ip:
        try:
            validate_ipv46_address(signup_ip)
        except ValidationError:
            raise CustomerInvalid(f"{signup_ip!r} is not an IP address.") from None
    if date_of_birth is not None and not isinstance(date_of_birth, dt.date):
        raise CustomerInvalid("date_of_birth must be a date.")
    for name, value in names.items():
        if not isinstance(value, str) or len(value) > PERSONAL_MAX_LENGTH.get(name, 100):
            raise CustomerInvalid(f"{name} must be text of at most {PERSONAL_MAX_LENGTH.get(name, 100)} characters.")
    return Profile(email=email, date_of_birth=date_of_birth, signup_ip=signup_ip or "", **names)


# What a profile field may hold (what the gateway's own profile takes, and what the admin form allows).
PERSONAL_MAX_LENGTH = {"email": 254, "first_name": 100, "middle_name": 100, "last_name": 100,
                       "phone_number": 32, "account_timezone": 64}


def _sealed(key: bytes, customer_id: str, profile: Profile) -> dict:
    return {"personal": pii.seal_json(key, customer_id, PERSONAL, profile.personal()),
            "signup_ip": pii.seal(key, customer_id, SIGNUP_IP, profile.signup_ip),
            "email_hash": pii.email_hash(profile.email)}


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
    """Create a customer with a data key of their own; their personal data are stored only
    sealed under it, and their login (if any) keeps no email or name."""
    if not is_external_id(customer_id):
        raise CustomerInvalid(f"customer_id must be {EXTERNAL_ID_RULE}")
    profile = _profile_checked(email=email, date_of_birth=date_of_birth, signup_ip=signup_ip,
                               first_name=first_name, middle_name=middle_name, last_name=last_name,
                               phone_number=phone_number, account_timezone=account_timezone)
    country_code = country_code.upper()
    if not is_country_code(country_code):
        raise CustomerInvalid("country_code must be an ISO 3166-1 alpha-2 code such as DE.")
    if (username is None) != (password is None):
        raise CustomerInvalid("username and password go together.")
    user = None
    try:
        # Savepoint: a duplicate must roll back only the failed insert, not the caller's transaction.
        with transaction.atomic():
            if username is not None:
                user = get_user_model().objects.create_user(username=username, password=password)
            key_id, master, wrapped, key = pii.data_key_new()
            data_key = DataKey.objects.create(key_id=key_id, master=master, wrapped=wrapped)
            return Customer.objects.create(customer_id=customer_id, user=user, data_key=data_key,
                                           country_code=country_code, **_sealed(key, customer_id, profile))
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
        event_record(type="customer.blocked" if blocked else "customer.unblocked", customer_id=customer_id)
    return BlockChanged(customer=customer, changed=changed)


# What staff may edit on a customer's page; the id, the login and the block have their own paths.
EDITABLE_FIELDS = ("email", "country_code", "first_name", "middle_name", "last_name", "phone_number",
                   "account_timezone", "date_of_birth")
AUDIT_CHANGES = "audit:changed"  # the sealing purpose of an edit's before/after in the audit trail


def _comparable(value):
    return value.isoformat() if isinstance(value, dt.date) else value


@transaction.atomic
def customer_update(*, customer_id: str, actor: Actor, changes: dict) -> Customer:
    """Edit a customer's profile. The audit record names the changed fields in the clear and
    keeps their before/after sealed under the customer's key (erasing them erases it too)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise CustomerInvalid(f"These fields cannot be edited here: {', '.join(sorted(unknown))}.")
    customer = Customer.objects.select_for_update().select_related("data_key").filter(customer_id=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    if customer.erased_at is not None:
        raise CustomerErased(f"Customer {customer_id} was erased; there is no profile to edit.")
    if "country_code" in changes:
        changes = {**changes, "country_code": str(changes["country_code"]).upper()}
        if not is_country_code(changes["country_code"]):
            raise CustomerInvalid("country_code must be an ISO 3166-1 alpha-2 code such as DE.")
    before = customer_profile(customer=customer)
    current = {**{name: getattr(before, name) for name in EDITABLE_FIELDS if name != "country_code"},
               "country_code": customer.country_code}
    diff = {name: {"before": _comparable(current[name]), "after": _comparable(value)}
            for name, value in changes.items() if current[name] != value}
    if not diff:
        return customer
    after = {**current, **{name: changes[name] for name in diff}}
    country_code = after.pop("country_code")
    profile = _profile_checked(signup_ip=before.signup_ip, **after)
    key = data_key_open(customer=customer)
    customer.country_code = country_code
    sealed = _sealed(key, customer_id, profile)
    customer.personal, customer.email_hash = sealed["personal"], sealed["email_hash"]
    customer.save(update_fields=["country_code", "personal", "email_hash", "updated_at"])
    audit_record(actor=actor, action=Action.CUSTOMER_CHANGED, target=f"customer:{customer_id}",
                 details={"fields": sorted(diff), "sealed": pii.seal_json(key, customer_id, AUDIT_CHANGES, diff)})
    return customer


@transaction.atomic
def customer_personal_destroy(*, customer_id: str) -> Customer:
    """Crypto-shred a customer: destroy their data key and empty their sealed fields. Every copy
    sealed under the key (outbox bodies, audit records, backups of either) is unreadable from
    now on; their balances and entries do not change. Repeating it changes nothing."""
    customer = Customer.objects.select_for_update().select_related("data_key").filter(customer_id=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} is not found.")
    if customer.erased_at is None:
        now = timezone.now()
        DataKey.objects.filter(pk=customer.data_key_id).update(wrapped=None, destroyed_at=now)
        customer.personal = customer.signup_ip = customer.email_hash = ""
        customer.erased_at = now
        customer.save(update_fields=["personal", "signup_ip", "email_hash", "erased_at", "updated_at"])
        event_record(type="customer.erased", customer_id=customer_id)
    return customer


@dataclass(frozen=True)
class Rewrapped:
    rewrapped: int
    remaining: int


def data_keys_rewrap(*, batch: int = 500) -> Rewrapped:
    """Rewrap one batch of data keys that another master key wraps under the first one (and
    rehash those customers' emails under it). Short transactions with skip-locked rows: safe
    while serving, and restartable at any point, since a key is either old or new, never half."""
    master_name, master = pii.current_master()
    done = 0
    with transaction.atomic():
        keys = list(DataKey.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(wrapped__isnull=False).exclude(master=master_name)
                    .select_related("customer").order_by("pk")[:batch])
        for data_key in keys:
            plain = pii.unwrap(master_name=data_key.master, key_id=str(data_key.key_id), wrapped=data_key.wrapped)
            customer = data_key.customer
            email = pii.unseal_json(plain, customer.customer_id, PERSONAL, customer.personal).get("email", "")
            DataKey.objects.filter(pk=data_key.pk).update(
                master=master_name, wrapped=pii.wrap(master, str(data_key.key_id), plain), rewrapped_at=timezone.now())
            Customer.objects.filter(pk=customer.pk).update(email_hash=pii.email_hash(email, master=master))
            done += 1
    remaining = DataKey.objects.filter(wrapped__isnull=False).exclude(master=master_name).count()
    return Rewrapped(rewrapped=done, remaining=remaining)


def signup_ips_drop(*, older_than: dt.timedelta) -> int:
    """Forget the sign-up addresses of customers who signed up before `older_than` ago."""
    cutoff = timezone.now() - older_than
    return Customer.objects.filter(created_at__lt=cutoff).exclude(signup_ip="").update(signup_ip="")
