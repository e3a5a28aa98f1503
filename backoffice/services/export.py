"""Everything we hold about one customer, as one JSON-ready document (the right of access): their
profile (opened with their key), their login, balances with every entry, their money requests,
the audit records about them and the calls we made to the gateway on their behalf."""

from __future__ import annotations

from django.utils import timezone
from django_otp import devices_for_user

from audit.models import Action
from audit.selectors import audit_event_dict, audit_events_about
from backoffice.models import AdjustmentRequest
from balances.money import format_amount
from balances.selectors import balance_entries, balance_held, customer_balances, customer_reversed_operations
from customers import pii
from customers.selectors import customer_get, customer_profile, personal_unseal
from customers.services import AUDIT_CHANGES
from quadcode.outbox import CREATE_CUSTOMER_BODY
from quadcode.selectors import customer_gateway_calls

FORMAT = "b2b-customer-export/1"
# What each sealed copy was sealed for, by where it sits.
_AUDIT_SEALED = {Action.CUSTOMER_CHANGED: AUDIT_CHANGES}


def _time(value):
    return value.isoformat() if value is not None else None


def customer_export(*, customer_id: str) -> dict:
    customer = customer_get(customer_id=customer_id)
    profile = customer_profile(customer=customer)

    def opened(purpose: str, token: str):
        if profile.erased:
            return "erased"
        try:
            return personal_unseal(customer=customer, purpose=purpose, token=token)
        except pii.PersonalDataUnavailable:
            return "unreadable"

    balances = customer_balances(customer_id=customer_id)
    requests = list(AdjustmentRequest.objects.filter(balance__customer=customer).select_related("balance")
                    .order_by("id"))
    targets = [f"customer:{customer_id}", *(f"request:{r.pk}" for r in requests),
               *(f"operation:{pk}" for pk in customer_reversed_operations(customer_id=customer_id))]

    def event(e) -> dict:
        row = audit_event_dict(e)
        if "sealed" in e.details and e.action in _AUDIT_SEALED:
            row["details"] = {**e.details, "sealed": opened(_AUDIT_SEALED[e.action], e.details["sealed"])}
        return row

    user = customer.user
    return {
        "format": FORMAT,
        "exported_at": _time(timezone.now()),
        "customer": {"customer_id": customer_id, "country_code": customer.country_code,
                     "is_blocked": customer.is_blocked, "created_at": _time(customer.created_at),
                     "erased_at": _time(customer.erased_at)},
        "profile": {"erased": True} if profile.erased else {
            **profile.personal(), "signup_ip": profile.signup_ip},
        "login": None if user is None else {
            "username": user.get_username(), "is_active": user.is_active, "date_joined": _time(user.date_joined),
            "last_login": _time(user.last_login),
            "second_factor_devices": [d.name for d in devices_for_user(user, confirmed=None)]},
        "balances": [_balance(balance) for balance in balances],
        "requests": [{
            "id": r.pk, "kind": r.kind, "balance_id": r.balance.balance_id,
            "amount": format_amount(r.amount, r.currency), "currency": r.currency, "state": r.state,
            "reason": r.reason, "requested_by": r.requested_by, "created_at": _time(r.created_at),
            "decided_by": r.decided_by, "decided_at": _time(r.decided_at), "decision_reason": r.decision_reason,
            "operation_id": r.operation_id} for r in requests],
        "audit": [event(e) for e in audit_events_about(targets=targets, actor=f"customer:{customer_id}")],
        "gateway_calls": [{
            "id": c.pk, "kind": c.kind, "created_at": _time(c.created_at), "delivered_at": _time(c.delivered_at),
            "attempts": c.attempts, "note": c.last_error,
            "payload": ({"sealed": opened(CREATE_CUSTOMER_BODY, c.payload["sealed"])}
                        if "sealed" in c.payload else c.payload)}
            for c in customer_gateway_calls(customer_id=customer_id)],
    }


def _balance(balance) -> dict:
    def money(value):
        return format_amount(value, balance.currency)

    return {
        "balance_id": balance.balance_id, "currency": balance.currency, "type": balance.type,
        "amount": money(balance.amount), "held": money(balance_held(balance=balance)),
        "created_at": _time(balance.created_at),
        "entries": [{
            "id": e.pk, "time": _time(e.created_at), "kind": e.kind, "amount": money(e.amount),
            "realized_amount": money(e.realized_amount), "balance_after": money(e.balance_after),
            "request_id": e.operation.request_id, "operation_id": e.operation_id, "comment": e.comment,
            "by": e.created_by.get_username() if e.created_by else None} for e in balance_entries(balance=balance)],
    }
