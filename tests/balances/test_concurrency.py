"""Races against real PostgreSQL with real threads and real commits: duplicates apply once,
parallel debits never overdraw and never lose an update."""

from __future__ import annotations

from decimal import Decimal

import pytest

from balances import services
from balances.models import Balance, LedgerEntry, Operation
from balances.verify import ledger_verify
from tests.conftest import QuadcodeCaller, body, ids, new_id, run_parallel

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12


@pytest.fixture
def balance(make_balance, ledger_path):
    return make_balance("100.00")


def debit(balance, request_id, amount, force=False):
    return services.ledger_debit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                                 request_id=request_id, amount=Decimal(amount), currency="USD", comment="", force=force)


def credit(balance, request_id, amount):
    return services.ledger_credit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                                  request_id=request_id, amount=Decimal(amount), currency="USD", comment="")


def test_parallel_duplicates_apply_once_and_all_get_the_same_answer(balance):
    results = run_parallel(THREADS, lambda i: debit(balance, "dup-1", "30.00"))
    assert all(isinstance(r, services.Posted) for r in results), results
    assert sum(not r.replayed for r in results) == 1
    assert {(r.operation_id, r.realized_amount, r.balance_after) for r in results} == {
        (results[0].operation_id, Decimal("30.00"), Decimal("70.00"))}
    balance.refresh_from_db()
    assert balance.amount == Decimal("70.00")
    assert LedgerEntry.objects.filter(operation__request_id="dup-1").count() == 1
    assert ledger_verify() == []


def test_parallel_duplicate_credits_apply_once(balance):
    results = run_parallel(THREADS, lambda i: credit(balance, "dup-credit", "5.00"))
    assert sum(not r.replayed for r in results) == 1
    balance.refresh_from_db()
    assert balance.amount == Decimal("105.00")


def test_parallel_debits_never_overdraw(balance):
    # 12 debits of 30 on 100: exactly 3 fit.
    results = run_parallel(THREADS, lambda i: debit(balance, f"od-{i}", "30.00"))
    applied = [r for r in results if isinstance(r, services.Posted)]
    declined = [r for r in results if not isinstance(r, services.Posted)]
    assert len(applied) == 3
    assert all(r.code == "insufficient_funds" for r in declined)
    balance.refresh_from_db()
    assert balance.amount == Decimal("10.00")
    assert sorted(r.balance_after for r in applied) == [Decimal("10.00"), Decimal("40.00"), Decimal("70.00")]
    assert Operation.objects.filter(balance=balance, kind="debit").count() == THREADS  # declines remembered
    assert ledger_verify() == []


def test_parallel_force_debits_take_exactly_what_there_was(balance):
    results = run_parallel(THREADS, lambda i: debit(balance, f"force-{i}", "30.00", force=True))
    assert all(isinstance(r, services.Posted) for r in results)
    assert sum(r.realized_amount for r in results) == Decimal("100.00")
    assert sorted(r.realized_amount for r in results)[-4:] == [Decimal("10.00")] + [Decimal("30.00")] * 3
    balance.refresh_from_db()
    assert balance.amount == Decimal("0")
    assert ledger_verify() == []


def test_parallel_plain_and_forced_debits_share_the_balance_exactly(balance):
    # Plain and forced debits race on one row: together they never take more than there was, a
    # plain debit takes its whole amount or nothing, a forced one what is left, and each entry's
    # balance_after follows the one before (entry ids are taken under the balance's lock).
    def op(i):
        return debit(balance, f"pf-{i}", "30.00", force=bool(i % 2))

    results = run_parallel(THREADS, op)
    plain, forced = results[0::2], results[1::2]
    assert all(isinstance(r, services.Posted) for r in forced)
    assert all(r.realized_amount == Decimal("30.00") for r in plain if isinstance(r, services.Posted))
    assert all(r.code == "insufficient_funds" for r in plain if not isinstance(r, services.Posted))
    posted = [r for r in results if isinstance(r, services.Posted)]
    assert sum(r.realized_amount for r in posted) == Decimal("100.00")
    balance.refresh_from_db()
    assert balance.amount == Decimal("0")
    entries = list(LedgerEntry.objects.filter(balance=balance, kind="debit").order_by("id"))
    assert [e.balance_after for e in entries] == [Decimal("100.00") - sum(e.realized_amount for e in entries[:n + 1])
                                                  for n in range(len(entries))]
    assert ledger_verify() == []


def test_parallel_mixed_debits_and_credits_lose_no_update(balance):
    def op(i):
        return credit(balance, f"mix-c-{i}", "7.00") if i % 2 else debit(balance, f"mix-d-{i}", "3.00")

    results = run_parallel(THREADS, op)
    assert all(isinstance(r, services.Posted) for r in results)
    balance.refresh_from_db()
    assert balance.amount == Decimal("100.00") + 6 * Decimal("7.00") - 6 * Decimal("3.00")
    assert ledger_verify() == []


def test_parallel_duplicates_over_http_apply_once(balance, mint):
    payload = body("25.00", request_id=new_id("http-dup"))
    token = mint()

    def call(i):
        response = QuadcodeCaller(mint).debit(*ids(balance), payload, token=token)
        return response.status_code, response.content

    results = run_parallel(8, call)
    assert {status for status, _ in results} == {201}
    assert len({content for _, content in results}) == 1
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("75.00")


def test_the_database_refuses_a_negative_balance_whatever_the_code_does(balance):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Balance.objects.filter(pk=balance.pk).update(amount=Decimal("-0.01"))
