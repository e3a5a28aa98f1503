"""Forgetting a customer (crypto-shredding): their data key is destroyed, so every copy of their
personal data is unreadable, while their balances, entries and operations stay whole — those
are the broker's financial records, which the law makes it keep."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp import devices_for_user

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from b2b_server.errors import InvalidRequest
from backoffice.errors import ErasureRefused
from backoffice.models import AdjustmentRequest
from balances.money import format_amount
from balances.selectors import balance_held, customer_balances, customer_balances_locked
from customers.selectors import customer_get
from customers.services import customer_personal_destroy
from quadcode.outbox import gateway_calls_forget
from quadcode.services import customer_block_propagated

# A request in one of these states may still move money (or holds it): erasure waits for it.
OPEN_STATES = (AdjustmentRequest.State.NEW, AdjustmentRequest.State.PENDING, AdjustmentRequest.State.APPROVED)


@dataclass(frozen=True)
class Erased:
    customer_id: str
    replayed: bool  # erased before: nothing was done this time


def erasure_blockers(*, customer_id: str, balances=None) -> list[str]:
    """Why this customer cannot be erased now (empty: they can): money on a balance, money held,
    a request still open. Without `balances` (a page asking before anyone confirms), read as
    they are now; customer_erase passes them locked."""
    balances = balances if balances is not None else customer_balances(customer_id=customer_id)
    reasons = []
    for balance in balances:
        if balance.amount != 0:
            reasons.append(f"balance {balance.balance_id} holds {format_amount(balance.amount, balance.currency)} "
                           f"{balance.currency}")
        held = balance_held(balance=balance)
        if held != 0:
            reasons.append(f"balance {balance.balance_id} has {format_amount(held, balance.currency)} "
                           f"{balance.currency} held for a request")
    open_requests = (AdjustmentRequest.objects.filter(balance__customer__customer_id=customer_id,
                                                      state__in=OPEN_STATES).values_list("pk", flat=True))
    reasons += [f"request {pk} is still open" for pk in open_requests]
    return reasons


@transaction.atomic
def customer_erase(*, customer_id: str, reason: str, actor: Actor) -> Erased:
    """Erase a customer's personal data, once nothing of theirs is left to pay out: destroy their
    data key, block them here and at the gateway, drop their pending pre-registration and the
    bodies of sent ones, and free their login. Recorded in the audit trail; a repeat does nothing."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("An erasure needs a reason (it is kept in the audit trail).")
    customer = customer_get(customer_id=customer_id)
    if customer.erased_at is not None:
        return Erased(customer_id=customer_id, replayed=True)
    # Locked until the commit: no credit or request lands between this check and the erasure.
    balances = customer_balances_locked(customer_id=customer_id)
    blockers = erasure_blockers(customer_id=customer_id, balances=balances)
    if blockers:
        raise ErasureRefused(f"Customer {customer_id} cannot be erased: {'; '.join(blockers)}.")
    customer_block_propagated(customer_id=customer_id, actor=actor, blocked=True, reason="erasure")
    gateway_calls_forget(customer_id=customer_id)
    login_freed = _login_free(customer.user_id, customer_pk=customer.pk)
    customer_personal_destroy(customer_id=customer_id)
    audit_record(actor=actor, action=Action.CUSTOMER_ERASED, target=f"customer:{customer_id}",
                 details={"reason": reason, "balances": [b.balance_id for b in balances], "login_freed": login_freed})
    return Erased(customer_id=customer_id, replayed=False)


def _login_free(user_id: int | None, *, customer_pk: int) -> bool:
    """The login can no longer be used, and its name is free for someone else: renamed, without a
    password (which also ends its sessions: each carries a hash of the password), inactive, and
    without second-factor devices."""
    if user_id is None:
        return False
    user = get_user_model().objects.select_for_update().get(pk=user_id)
    for device in devices_for_user(user, confirmed=None):
        device.delete()
    user.username = f"erased-{customer_pk}"
    user.email = user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    return True
