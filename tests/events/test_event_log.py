"""The event log: every ledger entry, request state change and block appends an event in the
same transaction, and the sequencer numbers them 1, 2, 3 … so that a reader going by sequence
never skips one — even when transactions commit out of id order."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from audit.actors import Actor
from balances.errors import InsufficientFunds
from balances.models import LedgerEntry
from balances.services import balance_open, ledger_credit, ledger_debit
from customers.services import customer_block, customer_create
from events.models import Event
from events.selectors import event_dict, events_after
from events.services import event_record, events_sequence
from tests.conftest import new_id, run_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def funded(amount="100.00", currency="USD"):
    customer = customer_create(customer_id=new_id("ev"), email="ev@example.com", country_code="DE")
    return balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_{currency}",
                        currency=currency, amount=Decimal(amount))


def sequenced() -> None:
    """Number everything committed so far."""
    while events_sequence().count:
        pass


def all_events() -> list[dict]:
    sequenced()
    return [event_dict(e) for e in events_after(after=0, limit=100_000)]


def test_every_ledger_entry_appends_one_event_with_amounts_as_the_api_writes_them():
    usd, _ = funded("100.00"), funded("1500", "JPY")
    ledger_debit(customer_id=usd.customer.customer_id, balance_id=usd.balance_id, request_id="d1",
                 amount=Decimal("10.5"), currency="USD")
    ledger_debit(customer_id=usd.customer.customer_id, balance_id=usd.balance_id, request_id="d1",
                 amount=Decimal("10.5"), currency="USD")  # a replay: no new entry, no new event
    events = all_events()
    assert [e["sequence"] for e in events] == [1, 2, 3]
    entries = LedgerEntry.objects.order_by("id").values_list("id", flat=True)
    assert [e["data"]["entry_id"] for e in events] == list(entries)
    debit = events[-1]
    assert (debit["type"], debit["customer_id"], debit["balance_id"]) == ("ledger.entry", usd.customer.customer_id,
                                                                          usd.balance_id)
    assert {k: debit["data"][k] for k in ("kind", "amount", "balance_after", "currency", "request_id")} == {
        "kind": "debit", "amount": "10.50", "balance_after": "89.50", "currency": "USD", "request_id": "d1"}
    assert events[1]["data"]["balance_after"] == "1500"  # JPY has no minor unit


def test_a_refused_movement_leaves_no_event():
    balance = funded("5.00")
    before = Event.objects.count()
    with pytest.raises(InsufficientFunds):
        ledger_debit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id, request_id="too-much",
                     amount=Decimal("6.00"), currency="USD")
    assert Event.objects.count() == before


def test_blocks_are_events_too():
    balance = funded()
    customer_block(customer_id=balance.customer.customer_id, actor=Actor.system(), reason="fraud check")
    customer_block(customer_id=balance.customer.customer_id, actor=Actor.system(), blocked=False)
    assert [e["type"] for e in all_events()][-2:] == ["customer.blocked", "customer.unblocked"]


def test_an_event_committed_after_a_later_one_is_numbered_after_it_and_not_missed():
    """T1 appends first (the lower id) and commits last: a reader who has read T2's event (by
    sequence) still gets T1's, numbered after it."""
    appended, release = threading.Event(), threading.Event()

    def slow():
        try:
            with transaction.atomic():
                event_record(type="test.slow", customer_id="t1")
                appended.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert appended.wait(10)
        with transaction.atomic():
            event_record(type="test.fast", customer_id="t2")  # a higher id, committed first
        assert events_sequence().count == 1
        [fast] = events_after(after=0)
        assert (fast.sequence, fast.type) == (1, "test.fast")
    finally:
        release.set()
        thread.join()
    sequenced()
    [slow] = events_after(after=fast.sequence)  # the reader's cursor stood at 1: nothing is skipped
    assert (slow.sequence, slow.type) == (2, "test.slow") and slow.id < fast.id


def test_under_concurrent_commits_a_reader_sees_every_event_once_in_order_without_a_gap():
    balances = [funded("1000.00") for _ in range(4)]
    start = Event.objects.count()
    done = threading.Event()
    seen: list[int] = []

    def reader():
        after = 0
        try:
            while True:
                finished = done.is_set()
                events_sequence()
                for event in events_after(after=after, limit=1000):
                    seen.append(event.sequence)
                    after = event.sequence
                if finished and not events_after(after=after):
                    return
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()

    def move(i):
        balance = balances[i % 4]
        kwargs = {"customer_id": balance.customer.customer_id, "balance_id": balance.balance_id,
                  "request_id": f"c-{i}", "amount": Decimal("1.00"), "currency": "USD"}
        return (ledger_debit if i % 3 else ledger_credit)(**kwargs)

    try:
        results = run_parallel(8, lambda i: [move(i * 25 + j) for j in range(25)])
        assert not [r for r in results if isinstance(r, Exception)]
    finally:
        done.set()
        thread.join()
    total = Event.objects.count()
    assert total == start + 200
    assert seen == list(range(1, total + 1))  # every sequence once, in order, none skipped
    # Within one balance, the log's order is the ledger's: each event's balance_after follows the last.
    for balance in balances:
        trail = [e for e in events_after(after=0, limit=10_000) if e.balance_id == balance.balance_id]
        ids = [e.data["entry_id"] for e in trail]
        assert ids == sorted(ids)
        amounts = [Decimal(e.data["balance_after"]) for e in trail]
        for before, event, after in zip(amounts, trail[1:], amounts[1:], strict=False):
            sign = 1 if event.data["kind"] in ("credit", "deposit") else -1
            assert after == before + sign * Decimal(event.data["realized_amount"])


def test_a_second_sequencer_waits_for_nobody():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x62326265])  # a sequencer at work elsewhere

        def other(_):
            return events_sequence()

        [result] = run_parallel(1, other)
        assert result.count == 0 and result.last is None
