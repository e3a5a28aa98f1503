"""Email to customers about their money: a withdrawal they asked for (requested, approved,
rejected or expired) and a deposit credited to them. Queued when the transaction that changed
the request commits (a rolled-back change mails nothing) and sent by a Celery task, so a slow
mail server never holds a page or a decision."""

from __future__ import annotations

from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from backoffice.models import AdjustmentRequest
from balances.money import format_amount

_SUBJECTS = {
    ("withdrawal", "requested"): lambda: _("Your withdrawal request was received"),
    ("withdrawal", "posted"): lambda: _("Your withdrawal was approved"),
    ("withdrawal", "rejected"): lambda: _("Your withdrawal was rejected"),
    ("withdrawal", "expired"): lambda: _("Your withdrawal request expired"),
    ("deposit", "posted"): lambda: _("A deposit was credited to your account"),
}


def customer_notify(*, request_id: int, event: str) -> None:
    """After the commit: mail the customer if this event of this request is one they are told of."""
    transaction.on_commit(lambda: _queue(request_id, event))


def _queue(request_id: int, event: str) -> None:
    request = AdjustmentRequest.objects.select_related("balance__customer").filter(pk=request_id).first()
    if request is None:
        return
    subject = _SUBJECTS.get((request.kind, event))
    withdrawal_of_theirs = request.kind == AdjustmentRequest.Kind.WITHDRAWAL and request.by_customer
    if subject is None or (request.kind == AdjustmentRequest.Kind.WITHDRAWAL and not withdrawal_of_theirs):
        return
    customer = request.balance.customer
    body = render_to_string("emails/money.txt", {
        "event": f"{request.kind}_{event}", "reference": request.pk, "balance_id": request.balance.balance_id,
        "amount": format_amount(request.amount, request.currency), "currency": request.currency,
        "reason": request.decision_reason if event in ("rejected", "expired") else ""})
    from backoffice.tasks import customer_email_send  # the task module imports the services, which import this

    # The address is looked up by the worker: it never sits in the broker's queue.
    customer_email_send.delay(customer.customer_id, str(subject()), body)
