"""A Hypothesis state machine holds the ledger against a plain Python model: any sequence of
debits, forced debits, credits, replays, conflicting reuses and blocks leaves the stored
balance equal to the model's, every answer equal to the model's, and ledger_verify clean."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from audit.actors import Actor
from b2b_server.errors import DomainError
from balances import services
from balances.models import Balance
from balances.verify import ledger_verify
from customers.services import customer_block, customer_create

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))


class LedgerMachine(RuleBasedStateMachine):
    """Model: an amount, a blocked flag, and the answer each request_id got."""

    @initialize(opening=st.integers(min_value=0, max_value=100_000).map(lambda c: Decimal(c).scaleb(-2)))
    def open_balance(self, opening):
        self.customer_id = f"m-{uuid.uuid4().hex[:10]}"
        self.balance_id = f"{self.customer_id}_USD"
        customer_create(customer_id=self.customer_id, email="m@example.com", country_code="DE")
        services.balance_open(customer_id=self.customer_id, balance_id=self.balance_id, currency="USD",
                              amount=opening)
        self.amount = opening
        self.blocked = False
        self.answers: dict[str, tuple] = {}  # request_id -> (kind, amount, force, outcome)

    def _call(self, kind, request_id, amount, force=False):
        ids = {"customer_id": self.customer_id, "balance_id": self.balance_id, "request_id": request_id,
                   "amount": amount, "currency": "USD", "comment": "model"}
        try:
            if kind == "debit":
                posted = services.ledger_debit(force=force, **ids)
            else:
                posted = services.ledger_credit(**ids)
        except DomainError as exc:
            return exc.code
        return (posted.realized_amount, posted.balance_after)

    @rule(amount=cents, force=st.booleans())
    def debit(self, amount, force):
        request_id = uuid.uuid4().hex
        outcome = self._call("debit", request_id, amount, force)
        if self.blocked:
            expected = "customer_blocked"
        elif amount <= self.amount:
            self.amount -= amount
            expected = (amount, self.amount)
        elif force:
            expected = (self.amount, Decimal(0))
            self.amount = Decimal(0)
        else:
            expected = "insufficient_funds"
        assert outcome == expected
        if expected != "customer_blocked":
            self.answers[request_id] = ("debit", amount, force, outcome)

    @rule(amount=cents)
    def credit(self, amount):
        request_id = uuid.uuid4().hex
        outcome = self._call("credit", request_id, amount)
        self.amount += amount
        assert outcome == (amount, self.amount)
        self.answers[request_id] = ("credit", amount, False, outcome)

    @precondition(lambda self: self.answers)
    @rule(data=st.data())
    def replay(self, data):
        request_id = data.draw(st.sampled_from(sorted(self.answers)))
        kind, amount, force, outcome = self.answers[request_id]
        assert self._call(kind, request_id, amount, force) == outcome

    @precondition(lambda self: self.answers)
    @rule(data=st.data(), other=cents)
    def reuse_for_something_else(self, data, other):
        request_id = data.draw(st.sampled_from(sorted(self.answers)))
        kind, amount, force, _ = self.answers[request_id]
        if other == amount:
            other += Decimal("0.01")
        assert self._call(kind, request_id, other, force) == "request_id_conflict"

    @rule()
    def toggle_block(self):
        self.blocked = not self.blocked
        customer_block(actor=Actor.system(), customer_id=self.customer_id, blocked=self.blocked)

    @invariant()
    def stored_amount_matches_the_model(self):
        assert Balance.objects.get(balance_id=self.balance_id).amount == self.amount
        assert self.amount >= 0

    def teardown(self):
        assert ledger_verify() == []


@pytest.mark.django_db(transaction=True)
def test_ledger_matches_a_plain_model(ledger_path):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None, database=None),
    )
