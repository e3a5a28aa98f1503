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
