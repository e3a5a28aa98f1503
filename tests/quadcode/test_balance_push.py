"""Balance-state push after staff movements (adjustments, holds) (margin draft, behind QUADCODE_BALANCE_PUSH):
ordered, coalesced, retried, the newest state wins."""

import json
import urllib.request
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from balances.models import LedgerEntry
from quadcode.models import GatewayCall

pytestmark = pytest.mark.django_db(transaction=True)


def pushed(simulator) -> dict:
    with urllib.request.urlopen(f"{simulator.url}/_control/calls", timeout=5) as response:
        return json.loads(response.read())["balances"]


def push_calls(simulator):
    return [call for call in simulator.calls() if call["name"] == "balance_push"]


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-2026")
    client.force_login(user)
    return client


def adjust(client, balance, kind, amount):
    response = client.post(f"/admin/balances/balance/{balance.pk}/adjust/",
                           {"kind": kind, "amount": amount, "reason": "test", "key": uuid.uuid4().hex},
                           HTTP_HOST="localhost")
    assert response.status_code == 302, response.content


def test_off_by_default(operator, trader, simulator, settings):
    assert settings.QUADCODE_BALANCE_PUSH is False
    adjust(operator, trader.balances.get(currency="USD"), "deposit", "5.00")
    assert push_calls(simulator) == []


def test_an_adjustment_pushes_the_new_state_with_microsecond_time(operator, trader, simulator, settings):
    settings.QUADCODE_BALANCE_PUSH = True
    balance = trader.balances.get(currency="USD")
    adjust(operator, balance, "deposit", "5.00")
    [call] = push_calls(simulator)
    assert call["method"] == "PUT" and call["path"] == (
        f"/v1/b2b-gateway/customers/{trader.customer_id}/balances/{balance.balance_id}")
    entry = LedgerEntry.objects.filter(balance=balance).latest("id")
    assert call["body"] == {"amount": "1005.00", "amount_currency_code": "USD",
                            "updated_at": int(entry.created_at.timestamp() * 1_000_000)}
    assert GatewayCall.objects.get().delivered_at is not None


def test_pushes_coalesce_during_an_outage_and_the_newest_state_wins(operator, trader, simulator, settings):
    settings.QUADCODE_BALANCE_PUSH = True
    settings.B2B_GATEWAY_RETRY_BASE = 0.0
    balance = trader.balances.get(currency="USD")
    simulator.fault("balance_push", 503)
    adjust(operator, balance, "deposit", "5.00")  # push refused: stays pending
    adjust(operator, balance, "withdrawal", "105.00")  # coalesced into the pending push
    assert GatewayCall.objects.filter(kind="balance_push").count() == 1
    call_command("gateway_calls_redeliver")
    assert pushed(simulator)[balance.balance_id]["amount"] == "900.00"
    bodies = [call["body"]["amount"] for call in push_calls(simulator)]
    assert bodies == ["1005.00", "900.00"]  # the refused one, then the newest state
    assert GatewayCall.objects.filter(delivered_at__isnull=True).count() == 0
    # A late, older state never overwrites a newer one at the gateway.
    older = int(timezone.now().timestamp() * 1_000_000) - 60_000_000
    request = urllib.request.Request(
        f"{simulator.url}/v1/b2b-gateway/customers/{trader.customer_id}/balances/{balance.balance_id}",
        data=json.dumps({"amount": "1.00", "amount_currency_code": "USD", "updated_at": older}).encode(),
        method="PUT", headers={"Content-Type": "application/json",
                               "Authorization": push_calls(simulator)[-1]["authorization"]})
    urllib.request.urlopen(request, timeout=5)
    assert pushed(simulator)[balance.balance_id]["amount"] == "900.00"
