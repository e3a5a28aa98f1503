"""request_id makes every debit and credit idempotent: a replay gets exactly the stored answer
and changes nothing; the same request_id for anything else is a 409."""

import pytest

from audit.actors import Actor
from balances.models import LedgerEntry, Operation
from customers.services import customer_block
from tests.conftest import body, ids, ledger_snapshot


@pytest.fixture
def balance(make_balance, ledger_path):
    return make_balance("100.00")



@pytest.mark.parametrize("operation", ["debit", "credit"])
def test_replayed_request_id_returns_original_response_and_posts_once(quadcode, balance, operation):
    payload = body("12.34")
    first = quadcode.post(*ids(balance), operation, payload)
    after_first = ledger_snapshot()
    replays = [quadcode.post(*ids(balance), operation, payload) for _ in range(3)]
    assert first.status_code == 201
    for replay in replays:
        assert replay.status_code == 201
        assert replay.content == first.content  # byte for byte
        assert replay["Idempotent-Replayed"] == "true"
    assert ledger_snapshot() == after_first
    assert LedgerEntry.objects.filter(operation__request_id=payload["request_id"]).count() == 1


def test_a_replay_with_another_comment_is_still_the_same_request(quadcode, balance):
    payload = body("1.00")
    first = quadcode.debit(*ids(balance), payload)
    replay = quadcode.debit(*ids(balance), {**payload, "comment": "retried"})
    assert replay.content == first.content


def test_a_replay_with_the_same_amount_written_differently_is_the_same_request(quadcode, balance):
    payload = body("5.5")
    first = quadcode.debit(*ids(balance), payload)
    replay = quadcode.debit(*ids(balance), {**payload, "amount": "5.50"})
    assert replay.status_code == 201 and replay.content == first.content


def test_a_declined_debit_is_remembered_even_after_funds_arrive(quadcode, balance):
    payload = body("150.00")
    first = quadcode.debit(*ids(balance), payload)
    assert first.status_code == 402
    assert quadcode.credit(*ids(balance), body("100.00")).status_code == 201
    replay = quadcode.debit(*ids(balance), payload)
    assert replay.status_code == 402
    assert replay.content == first.content
    assert not LedgerEntry.objects.filter(operation__request_id=payload["request_id"]).exists()


def test_a_replayed_force_debit_returns_its_original_realized_amount(quadcode, balance):
    payload = body("300.00", force=True)
    first = quadcode.debit(*ids(balance), payload)
    assert first.json()["realized_amount"] == "100.00"
    quadcode.credit(*ids(balance), body("500.00"))
    replay = quadcode.debit(*ids(balance), payload)
    assert replay.content == first.content


def test_a_debit_applied_before_a_block_is_still_answered_on_retry(quadcode, balance):
    # Money already left the balance; answering 451 now would make the platform think it did not.
    payload = body("10.00")
    first = quadcode.debit(*ids(balance), payload)
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id)
    replay = quadcode.debit(*ids(balance), payload)
    assert replay.status_code == 201
    assert replay.content == first.content


CHANGES = {
    "amount": lambda p: {**p, "amount": "10.01"},
    "currency-compatible force flag": lambda p: {**p, "force": True},
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_same_request_id_with_a_different_debit_is_409_and_applies_nothing(quadcode, balance, change):
    payload = body("10.00")
    quadcode.debit(*ids(balance), payload)
    before = ledger_snapshot()
    response = quadcode.debit(*ids(balance), CHANGES[change](payload))
    assert response.status_code == 409
    assert response.json() == {"error": "request_id_conflict", "message": response.json()["message"]}
    assert ledger_snapshot() == before


def test_same_request_id_for_a_credit_after_a_debit_is_409(quadcode, balance):
    payload = body("10.00")
    quadcode.debit(*ids(balance), payload)
    before = ledger_snapshot()
    assert quadcode.credit(*ids(balance), payload).status_code == 409
    assert ledger_snapshot() == before


def test_same_request_id_on_another_balance_or_customer_is_409(quadcode, balance, make_balance):
    payload = body("10.00")
    quadcode.debit(*ids(balance), payload)
    same_customer = make_balance("100.00", customer=balance.customer)
    other_customer = make_balance("100.00")
    before = ledger_snapshot()
    assert quadcode.debit(*ids(same_customer), payload).status_code == 409
    assert quadcode.debit(*ids(other_customer), payload).status_code == 409
    assert ledger_snapshot() == before


def test_same_request_id_after_a_decline_with_another_amount_is_409(quadcode, balance):
    payload = body("500.00")
    assert quadcode.debit(*ids(balance), payload).status_code == 402
    assert quadcode.debit(*ids(balance), {**payload, "amount": "5.00"}).status_code == 409
    assert Operation.objects.filter(request_id=payload["request_id"]).count() == 1
