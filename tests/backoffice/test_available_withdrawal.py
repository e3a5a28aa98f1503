"""Margin-aware withdrawals: with a gateway configured, a withdrawal asks
GET …/available-withdrawal-amount (contract/margin-draft/gateway-api.yaml) when it is requested
and again when it is approved. 200 is the limit; 404 (a gateway without margin trading) leaves
the balance as the limit; anything else is refused — never guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backoffice.errors import ExceedsAvailableAmount
from backoffice.services import adjustment_approve, adjustment_request
from quadcode.services import AvailableAmountUnknown
from tests.backoffice.conftest import everything

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


@pytest.fixture
def balance(make_balance):
    return make_balance("100.00")


def withdraw(balance, actor, amount, key="wd"):
    return adjustment_request(balance_id=balance.balance_id, kind="withdrawal", amount=Decimal(amount),
                              reason="payout", key=key, actor=actor)


def asked(simulator) -> list[str]:
    return [call["path"] for call in simulator.calls() if call["name"] == "available_withdrawal"]


def test_200_is_the_limit_when_requested_and_the_refusal_names_it(balance, clerk, simulator):
    simulator.state(withdrawable={balance.balance_id: "30.00"})
    snapshot = everything()
    with pytest.raises(ExceedsAvailableAmount, match="at most 30.00 USD"):
        withdraw(balance, clerk, "30.01")
    assert everything() == snapshot
    assert asked(simulator) == [f"/v1/b2b-gateway/customers/{balance.customer.customer_id}/balances/"
                                f"{balance.balance_id}/available-withdrawal-amount"]
    assert withdraw(balance, clerk, "30.00").state == "pending"


def test_the_limit_is_asked_again_at_approval_and_the_hold_counts_as_available_to_it(balance, clerk, approver,
                                                                                     simulator):
    simulator.state(withdrawable={balance.balance_id: "50.00"})
    pending = withdraw(balance, clerk, "40.00")
    # Meanwhile positions use all the gateway still sees (60.00: the 40.00 are held, out of its
    # reach), so it lets nothing more go. The 40.00 this request holds were never collateral:
    # they are still this request's to pay out.
    simulator.state(withdrawable={balance.balance_id: "0.00"})
    posted = adjustment_approve(request_id=pending.request_id, actor=approver)
    assert posted.state == "posted"
    assert len(asked(simulator)) == 2


def test_404_means_no_margin_trading_and_the_balance_is_the_limit(balance, clerk, approver, simulator):
    pending = withdraw(balance, clerk, "100.00")  # the simulator answers 404 for balances it was not told of
    assert adjustment_approve(request_id=pending.request_id, actor=approver).state == "posted"
    assert len(asked(simulator)) == 2


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 401}, {"status": 200, "body": {"amount": "lots"}},
                                   {"delay": 3.0}])
def test_any_other_answer_refuses_the_request_and_changes_nothing(balance, clerk, simulator, settings, fault):
    settings.QUADCODE_TIMEOUT = 1.0
    simulator.state(withdrawable={balance.balance_id: "100.00"})
    simulator.fault("available_withdrawal", fault.get("status"), delay=fault.get("delay", 0.0), body=fault.get("body"))
    snapshot = everything()
    with pytest.raises(AvailableAmountUnknown, match="Cannot confirm the available amount now; try again"):
        withdraw(balance, clerk, "10.00")
    assert everything() == snapshot


def test_a_refused_connection_refuses_the_approval_and_leaves_the_request_pending(balance, clerk, approver,
                                                                                 simulator, settings):
    simulator.state(withdrawable={balance.balance_id: "100.00"})
    pending = withdraw(balance, clerk, "10.00")
    settings.QUADCODE_API_URL = "http://127.0.0.1:9"
    snapshot = everything()
    with pytest.raises(AvailableAmountUnknown):
        adjustment_approve(request_id=pending.request_id, actor=approver)
    assert everything() == snapshot
