"""The first cut of the money admin: money only moves through the ledger."""

import uuid

import pytest
from django.contrib.auth import get_user_model

from balances.models import LedgerEntry, Operation


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-2026")
    client.force_login(user)
    return client


def test_admin_lists_customers_balances_and_entries(admin_client, make_balance):
    balance = make_balance("42.00")
    for url in ["/admin/customers/customer/", "/admin/balances/balance/", "/admin/balances/ledgerentry/",
                "/admin/balances/operation/"]:
        response = admin_client.get(url, HTTP_HOST="localhost")
        assert response.status_code == 200, url
    page = admin_client.get(f"/admin/balances/balance/{balance.pk}/change/", HTTP_HOST="localhost").content.decode()
    assert "42.00" in page
    assert 'name="amount"' not in page  # shown, never an input


def test_even_a_superuser_cannot_add_change_or_delete_ledger_history(admin_client, make_balance):
    balance = make_balance("42.00")
    entry = LedgerEntry.objects.get(balance=balance)
    operation = Operation.objects.get(pk=entry.operation_id)
    for url in ["/admin/balances/ledgerentry/add/", f"/admin/balances/ledgerentry/{entry.pk}/delete/",
                "/admin/balances/operation/add/", f"/admin/balances/operation/{operation.pk}/delete/",
                f"/admin/balances/balance/{balance.pk}/delete/"]:
        assert admin_client.get(url, HTTP_HOST="localhost").status_code == 403, url
    response = admin_client.post(f"/admin/balances/ledgerentry/{entry.pk}/change/",
                                 {"comment": "edited"}, HTTP_HOST="localhost")
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.comment == "opening amount"


def test_ledger_entries_export_as_csv(admin_client, make_balance):
    import csv
    import io

    first, second = make_balance("42.00"), make_balance("7.50", currency="EUR")
    ids = list(LedgerEntry.objects.order_by("id").values_list("pk", flat=True))
    response = admin_client.post("/admin/balances/ledgerentry/?balance__currency__exact=EUR",
                                 {"action": "export_csv", "_selected_action": ids, "select_across": "1"},
                                 HTTP_HOST="localhost")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["id", "created_at", "balance_id", "currency", "kind"]
    exported = [(row[2], row[3], row[4], row[6]) for row in rows[1:]]
    assert exported == [(second.balance_id, "EUR", "deposit", "7.50000000")]
    assert all(first.balance_id not in row for row in rows)  # the filter applied


def adjust(client, balance, **data):
    data.setdefault("key", uuid.uuid4().hex)
    return client.post(f"/admin/balances/balance/{balance.pk}/adjust/", data, HTTP_HOST="localhost")


@pytest.mark.parametrize("kind,amount,expected", [
    ("deposit", "25.50", "125.50"), ("correction_in", "0.01", "100.01"), ("correction_out", "100.00", "0.00"),
])
def test_a_small_adjustment_is_posted_at_once_with_its_reason_and_author(admin_client, make_balance, kind, amount,
                                                                        expected):
    from decimal import Decimal

    from balances.verify import ledger_verify

    balance = make_balance("100.00")
    response = adjust(admin_client, balance, kind=kind, amount=amount, reason="  customer paid by wire  ")
    assert response.status_code == 302
    balance.refresh_from_db()
    assert balance.amount == Decimal(expected)
    entry = LedgerEntry.objects.filter(balance=balance).latest("id")
    assert (entry.kind, entry.realized_amount, entry.comment, entry.created_by.username) == (
        kind, Decimal(amount), "customer paid by wire", "root")
    assert ledger_verify() == []
    page = admin_client.get(f"/admin/balances/balance/{balance.pk}/change/", HTTP_HOST="localhost").content.decode()
    assert "customer paid by wire" in page  # the balance page shows its recent entries


def test_a_withdrawal_from_the_admin_is_a_pending_request_holding_its_funds(admin_client, make_balance):
    from decimal import Decimal

    from backoffice.models import AdjustmentRequest

    balance = make_balance("100.00")
    response = adjust(admin_client, balance, kind="withdrawal", amount="40.00", reason="payout to IBAN ...42")
    assert response.status_code == 302
    request = AdjustmentRequest.objects.get(balance=balance)
    assert (request.state, request.kind, request.amount) == ("pending", "withdrawal", Decimal("40.00"))
    balance.refresh_from_db()
    assert balance.amount == Decimal("60.00")  # held: what Quadcode sees and may debit
    assert LedgerEntry.objects.filter(balance=balance).latest("id").kind == "hold"
    page = admin_client.get(f"/admin/balances/balance/{balance.pk}/change/", HTTP_HOST="localhost").content.decode()
    assert "40.00 USD" in page  # held for pending requests


@pytest.mark.parametrize("data,error", [
    ({"kind": "withdrawal", "amount": "100.01", "reason": "payout"}, "does not cover"),
    ({"kind": "correction_out", "amount": "500", "reason": "fix"}, "does not cover"),
    ({"kind": "deposit", "amount": "1.001", "reason": "wire"}, "more decimals than USD allows"),
    ({"kind": "deposit", "amount": "-5", "reason": "wire"}, "decimal string"),
    ({"kind": "deposit", "amount": "5", "reason": ""}, "This field is required"),
    ({"kind": "debit", "amount": "5", "reason": "sneaky"}, "Select a valid choice"),
])
def test_a_bad_adjustment_is_refused_and_changes_nothing(admin_client, make_balance, data, error):
    from audit.models import AuditEvent
    from backoffice.models import AdjustmentRequest
    from tests.conftest import ledger_snapshot

    balance = make_balance("100.00")
    before = ledger_snapshot(), AuditEvent.objects.count(), AdjustmentRequest.objects.count()
    response = adjust(admin_client, balance, **data)
    assert response.status_code == 200
    assert error in response.content.decode()
    # nothing at all: no operation (not even a declined one), no request, no audit row
    assert (ledger_snapshot(), AuditEvent.objects.count(), AdjustmentRequest.objects.count()) == before


def test_only_staff_with_the_adjust_permission_may_adjust(client, db, make_balance, django_user_model):
    balance = make_balance("100.00")
    clerk = django_user_model.objects.create_user("clerk", password="pw-clerk-2026", is_staff=True)
    client.force_login(clerk)
    assert client.get(f"/admin/balances/balance/{balance.pk}/adjust/", HTTP_HOST="localhost").status_code == 403
    assert adjust(client, balance, kind="deposit", amount="5", reason="x").status_code == 403


def test_the_balance_page_links_to_all_its_entries(admin_client, make_balance):
    first, _second = make_balance("42.00"), make_balance("7.00")
    page = admin_client.get(f"/admin/balances/balance/{first.pk}/change/", HTTP_HOST="localhost").content.decode()
    link = f"/admin/balances/ledgerentry/?balance__balance_id={first.balance_id}"
    assert link in page
    listing = admin_client.get(link, HTTP_HOST="localhost")
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
