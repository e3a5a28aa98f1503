"""The first cut of the money admin: money only moves through the ledger."""

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
    assert [(row[2], row[3], row[4], row[6]) for row in rows[1:]] == [(second.balance_id, "EUR", "deposit", "7.50000000")]
    assert all(first.balance_id not in row for row in rows)  # the filter applied
