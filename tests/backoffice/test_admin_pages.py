"""The staff's admin pages: the queue of requests with its buttons (never on your own rows),
approval, rejection and reversal from the admin, and the audit trail of customer edits, blocks
and ledger exports."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_request
from balances.models import Balance, LedgerEntry
from customers.selectors import customer_profile, personal_unseal
from customers.services import AUDIT_CHANGES
from tests.backoffice.conftest import staff_member

QUEUE = "/admin/backoffice/adjustmentrequest/"


@pytest.fixture
def balance(make_balance):
    return make_balance("100.00")


def login(client, actor):
    client.force_login(get_user_model().objects.get(pk=actor.user_id))
    return client


def page(client, url) -> str:
    response = client.get(url, HTTP_HOST="localhost")
    assert response.status_code == 200, url
    return response.content.decode()


def pending_withdrawal(balance, actor, amount="30.00"):
    return adjustment_request(balance_id=balance.balance_id, kind="withdrawal", amount=Decimal(amount),
                              reason="payout to IBAN DE..12", key="wd-admin", actor=actor)


def test_the_queue_shows_pending_requests_with_buttons_except_on_your_own_rows(client, balance, approver,
                                                                               second_approver):
    mine = pending_withdrawal(balance, approver)
    listing = page(login(client, approver), QUEUE)
    assert f"/admin/backoffice/adjustmentrequest/{mine.request_id}/approve/" not in listing
    assert "your request: someone else decides" in listing
    listing = page(login(client, second_approver), QUEUE)
    assert f"/admin/backoffice/adjustmentrequest/{mine.request_id}/approve/" in listing
    assert f"/admin/backoffice/adjustmentrequest/{mine.request_id}/reject/" in listing


def test_approving_from_the_queue_posts_the_request(client, balance, clerk, approver):
    pending = pending_withdrawal(balance, clerk)
    response = login(client, approver).post(f"{QUEUE}{pending.request_id}/approve/", HTTP_HOST="localhost")
    assert response.status_code == 302
    request = AdjustmentRequest.objects.get(pk=pending.request_id)
    assert (request.state, request.decided_by) == ("posted", "approver")
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("70.00")
    assert client.get(f"{QUEUE}{pending.request_id}/approve/", HTTP_HOST="localhost").status_code == 405


def test_the_requester_posting_to_approve_is_refused_and_nothing_moves(client, balance, approver):
    pending = pending_withdrawal(balance, approver)
    response = login(client, approver).post(f"{QUEUE}{pending.request_id}/approve/", HTTP_HOST="localhost",
                                            follow=True)
    assert "someone else must decide it" in response.content.decode()
    assert AdjustmentRequest.objects.get(pk=pending.request_id).state == "pending"


def test_rejecting_from_the_queue_needs_a_reason_and_releases_the_hold(client, balance, clerk, approver):
    pending = pending_withdrawal(balance, clerk)
    login(client, approver)
    client.post(f"{QUEUE}{pending.request_id}/reject/", {"reason": ""}, HTTP_HOST="localhost")
    assert AdjustmentRequest.objects.get(pk=pending.request_id).state == "pending"
    client.post(f"{QUEUE}{pending.request_id}/reject/", {"reason": "no such IBAN"}, HTTP_HOST="localhost")
    assert AdjustmentRequest.objects.get(pk=pending.request_id).state == "rejected"
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("100.00")


def test_a_posted_adjustment_has_a_reversal_button_and_it_reverses_once(client, balance, clerk):
    deposit = adjustment_request(balance_id=balance.balance_id, kind="deposit", amount=Decimal("12.00"),
                                 reason="wire", key="dep", actor=clerk)
    detail = page(login(client, clerk), f"{QUEUE}{deposit.request_id}/change/")
    assert f"Reverse operation {deposit.operation_id}" in detail
    key = detail.split(f'name="key-{deposit.request_id}" value="', 1)[1].split('"', 1)[0]
    data = {"reason": "wrong customer", "key": key}
    client.post(f"{QUEUE}{deposit.request_id}/reverse/", data, HTTP_HOST="localhost")
    client.post(f"{QUEUE}{deposit.request_id}/reverse/", data, HTTP_HOST="localhost")  # resubmitted: a replay
    assert LedgerEntry.objects.filter(balance=balance, kind="reversal_out").count() == 1
    assert "reversed by operation" in page(client, f"{QUEUE}{deposit.request_id}/change/")


def test_an_admin_edit_of_a_customer_records_each_changed_field_before_and_after(client, balance, django_user_model):
    user = staff_member(django_user_model, "editor", "customers.change_customer", "customers.view_customer")
    client.force_login(user)
    customer = balance.customer
    form = {"email": "new@example.com", "country_code": "FR", "first_name": "", "middle_name": "", "last_name": "Lee",
            "phone_number": "", "account_timezone": "", "date_of_birth": ""}
    response = client.post(f"/admin/customers/customer/{customer.pk}/change/", form, HTTP_HOST="localhost")
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="customer_changed")
    assert (event.actor, event.target) == ("editor", f"customer:{customer.customer_id}")
    expected = {"email": {"before": "customer@example.com", "after": "new@example.com"},
                "country_code": {"before": "DE", "after": "FR"}, "last_name": {"before": "", "after": "Lee"}}
    # The names of the fields in the clear; their values sealed under the customer's key.
    assert event.details["fields"] == sorted(expected)
    assert "new@example.com" not in json.dumps(event.details)
    customer.refresh_from_db()
    assert personal_unseal(customer=customer, purpose=AUDIT_CHANGES, token=event.details["sealed"]) == expected
    assert customer_profile(customer=customer).email == "new@example.com"
    client.post(f"/admin/customers/customer/{customer.pk}/change/", form, HTTP_HOST="localhost")
    assert AuditEvent.objects.filter(action="customer_changed").count() == 1  # nothing changed: nothing recorded


def test_blocking_from_the_admin_records_who_and_why(client, balance, django_user_model):
    user = staff_member(django_user_model, "ops", "customers.block_customer", "customers.view_customer",
                        "customers.change_customer")
    client.force_login(user)
    customer = balance.customer
    client.post("/admin/customers/customer/", {"action": "block", "_selected_action": [customer.pk],
                                               "reason": "card fraud"}, HTTP_HOST="localhost")
    event = AuditEvent.objects.get(action="customer_blocked")
    assert (event.actor, event.details) == ("ops", {"reason": "card fraud"})


def test_a_ledger_export_is_recorded(client, balance, django_user_model):
    user = get_user_model().objects.create_superuser("auditor", "a@example.com", "pw-auditor-2026")
    client.force_login(user)
    entries = list(LedgerEntry.objects.values_list("pk", flat=True))
    response = client.post("/admin/balances/ledgerentry/", {"action": "export_csv", "_selected_action": entries},
                           HTTP_HOST="localhost")
    assert response["Content-Type"].startswith("text/csv")
    event = AuditEvent.objects.get(action="ledger_exported")
    assert (event.actor, event.details["entries"]) == ("auditor", len(entries))


def test_the_audit_trail_is_readable_and_filterable_in_the_admin_and_never_editable(client, balance, clerk):
    adjustment_request(balance_id=balance.balance_id, kind="deposit", amount=Decimal("1.00"), reason="x", key="a",
                       actor=clerk)
    superuser = get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-2026")
    client.force_login(superuser)
    listing = page(client, "/admin/audit/auditevent/?action__exact=adjustment_posted")
    assert "adjustment_posted" in listing and "adjustment_requested</td>" not in listing
    assert "clerk" in page(client, "/admin/audit/auditevent/?actor=clerk")
    event = AuditEvent.objects.first()
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/", HTTP_HOST="localhost").status_code == 403
    assert client.get("/admin/audit/auditevent/add/", HTTP_HOST="localhost").status_code == 403


def test_a_posted_request_whose_operation_was_archived_still_shows(client, balance, clerk):
    """Old months leave the live database (ledger_archive); the staff request that posted one of
    their operations stays, and its page says so instead of failing."""
    deposit = adjustment_request(balance_id=balance.balance_id, kind="deposit", amount=Decimal("12.00"),
                                 reason="wire", key="dep-old", actor=clerk)
    AdjustmentRequest.objects.filter(pk=deposit.request_id).update(operation_id=10**12)  # as if archived
    detail = page(login(client, clerk), f"{QUEUE}{deposit.request_id}/change/")
    assert f"operation {10**12} is archived" in detail and "Reverse operation" not in detail
