"""What a customer does on their own pages: set up a second factor, ask for a withdrawal,
announce a deposit, open an API session for a trading program.

Money requests become requests in the staff's workflow (backoffice): always pending, approved
by a staff member, a withdrawal's funds held at once. A withdrawal needs the current code of the
customer's second factor (a code is good once).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from account.errors import CodeRefused, SecondFactorMissing
from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from b2b_server.errors import InvalidRequest
from backoffice.models import AdjustmentRequest
from backoffice.services import RequestOutcome, request_open
from balances.errors import BalanceNotFound, CustomerBlocked, InsufficientFunds
from balances.models import Balance
from balances.money import format_amount, validate_amount
from customers.ids import is_external_id
from customers.models import Customer
from quadcode.services import api_session_open
from quadcode.visitor import Visitor

_CODE_RE = re.compile(r"[0-9]{6,8}", re.ASCII)
REFERENCE_MAX_LENGTH = 64


def customer_actor(customer: Customer) -> Actor:
    return Actor.customer(customer.customer_id, customer.user_id)


def own_balance(*, customer: Customer, balance_id: str) -> Balance:
    """One of this customer's balances; anybody else's is the same 404 as none at all."""
    balance = Balance.objects.select_related("customer").filter(
        balance_id=balance_id, customer=customer).first() if is_external_id(balance_id) else None
    if balance is None:
        raise BalanceNotFound()
    return balance


def payment_reference(customer: Customer) -> str:
    """The reference the customer quotes on a bank transfer: their id and two check characters,
    so that a mistyped reference is noticed instead of credited to somebody else."""
    check = hashlib.sha256(customer.customer_id.encode()).hexdigest()[:2].upper()
    return f"W-{customer.customer_id}-{check}"


# --- the second factor ----------------------------------------------------------------------

def second_factor_active(*, customer: Customer) -> bool:
    return TOTPDevice.objects.filter(user_id=customer.user_id, confirmed=True).exists()


@transaction.atomic
def second_factor_start(*, customer: Customer) -> TOTPDevice:
    """A new, not yet confirmed device: its QR code and URI go to the customer's app. The one in
    use (if any) stays in use until the new one is confirmed."""
    TOTPDevice.objects.filter(user_id=customer.user_id, confirmed=False).delete()
    return TOTPDevice.objects.create(user_id=customer.user_id, name="new authenticator", confirmed=False)


def second_factor_pending(*, customer: Customer) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user_id=customer.user_id, confirmed=False).order_by("-id").first()


@transaction.atomic
def second_factor_confirm(*, customer: Customer, otp_token: str) -> None:
    """Confirm the new device with a code from it; it then replaces any other."""
    device = TOTPDevice.objects.select_for_update().filter(user_id=customer.user_id, confirmed=False) \
        .order_by("-id").first()
    if device is None:
        raise InvalidRequest("Start setting up a second factor first.")
    _verify(device, otp_token)
    TOTPDevice.objects.filter(user_id=customer.user_id).exclude(pk=device.pk).delete()
    device.confirmed, device.name = True, "authenticator"
    device.save(update_fields=["confirmed", "name"])
    audit_record(actor=customer_actor(customer), action=Action.MFA_ENROLLED,
                 target=f"customer:{customer.customer_id}", details={"device": device.name})


def _verify(device: TOTPDevice, otp_token: str) -> None:
    """The device row is locked by the caller: two tabs posting one code cannot both use it."""
    token = (otp_token or "").strip()
    if not _CODE_RE.fullmatch(token) or not device.verify_token(token):
        raise CodeRefused()


@transaction.atomic
def _code_checked(customer: Customer, otp_token: str) -> None:
    device = TOTPDevice.objects.select_for_update().filter(user_id=customer.user_id, confirmed=True).first()
    if device is None:
        raise SecondFactorMissing()
    _verify(device, otp_token)


# --- money ----------------------------------------------------------------------------------

def _replay(key: str, customer: Customer) -> bool:
    """A form submitted again (a double click): answered from its first submission, without
    asking for a new code."""
    return AdjustmentRequest.objects.filter(key=key, balance__customer=customer).exists()


def withdrawal_request(*, customer: Customer, balance_id: str, amount: Decimal, otp_token: str,
                       key: str) -> RequestOutcome:
    """A withdrawal the customer asks for: checked, the code verified, then a pending request
    with its funds held at once (and the gateway's available-withdrawal-amount respected)."""
    if customer.is_blocked:
        raise CustomerBlocked()
    balance = own_balance(customer=customer, balance_id=balance_id)
    validate_amount(amount, balance.currency)
    reason = "Withdrawal asked for by the customer"
    if not _replay(key, customer):
        # Checked before the code, which a refusal would otherwise waste.
        if amount > balance.amount:
            raise InsufficientFunds("Insufficient funds.")
        _code_checked(customer, otp_token)
    return request_open(balance=balance, kind=AdjustmentRequest.Kind.WITHDRAWAL, amount=amount, reason=reason,
                        key=key, actor=customer_actor(customer), four_eyes=True)


def deposit_announce(*, customer: Customer, balance_id: str, amount: Decimal, transfer_date: dt.date,
                     their_reference: str, key: str) -> RequestOutcome:
    """A transfer the customer says they made: a pending incoming request, posted as a deposit
    when staff see the money arrive."""
    balance = own_balance(customer=customer, balance_id=balance_id)
    their_reference = (their_reference or "").strip()
    if len(their_reference) > REFERENCE_MAX_LENGTH or not their_reference.isprintable():
        raise InvalidRequest(f"The transfer's reference must be at most {REFERENCE_MAX_LENGTH} printable characters.")
    validate_amount(amount, balance.currency)
    reason = (f"Transfer announced by the customer: {format_amount(amount, balance.currency)} {balance.currency} "
              f"sent on {transfer_date.isoformat()}, their reference {their_reference or '(none)'}, "
              f"ours {payment_reference(customer)}")
    return request_open(balance=balance, kind=AdjustmentRequest.Kind.DEPOSIT, amount=amount, reason=reason, key=key,
                        actor=customer_actor(customer), four_eyes=True)


def api_session(*, customer: Customer, visitor: Visitor, user_agent: str, platform_id: int):
    """An API session (ssid) from the gateway for the customer's trading program."""
    if customer.is_blocked:
        raise CustomerBlocked()
    return api_session_open(customer=customer, visitor=visitor, user_agent=user_agent, platform_id=platform_id)
