"""Daily checkpoints with a hash chain: ledger_verify then reads only what came after them, and
`--full` recomputes every hash, so an old entry rewritten with the triggers disabled is found."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from balances.checkpoints import GENESIS
from balances.models import Balance, Checkpoint, LedgerEntry, VerifyRun
from balances.services import ledger_credit, ledger_debit
from balances.services.checkpoints import checkpoints_make
from balances.verify import ledger_verify, ledger_verify_report

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = dt.date.today()
TOMORROW = TODAY + dt.timedelta(days=1)


def trade(balance, n: int, prefix: str) -> None:
    for i in range(n):
        ledger_debit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                     request_id=f"{prefix}-d{i}", amount=Decimal("1.00"), currency=balance.currency)
        ledger_credit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                      request_id=f"{prefix}-c{i}", amount=Decimal("2.50"), currency=balance.currency)


def independent_hash(previous: str, entries) -> str:
    """The documented recipe (balances/checkpoints.py), written again from scratch."""
    digest = hashlib.sha256(previous.encode() + b"\n")
    for e in entries:
        line = [e.id, e.operation.request_id, e.kind, f"{e.amount:.8f}", f"{e.realized_amount:.8f}",
                f"{e.balance_after:.8f}", e.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                e.comment]
        digest.update((json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
    return digest.hexdigest()


@pytest.fixture
def two(make_balance):
    first, second = make_balance("100.00"), make_balance("50.00")
    trade(first, 3, "a")
    trade(second, 1, "b")
    return first, second


def test_each_active_balance_gets_a_chained_checkpoint_with_its_closing_amount(two):
    first, second = two
    run = checkpoints_make(day=TODAY)
    assert (run.checkpoints, run.entries) == (2, 7 + 3)
    checkpoint = Checkpoint.objects.get(balance=first)
    entries = list(LedgerEntry.objects.filter(balance=first).select_related("operation").order_by("id"))
    assert (checkpoint.closing_amount, checkpoint.last_entry_id, checkpoint.entries) == (
        Decimal("104.50"), entries[-1].id, 7)
    assert checkpoint.previous_hash == GENESIS
    assert checkpoint.hash == independent_hash(GENESIS, entries)
    assert checkpoints_make(day=TODAY) == run  # a day is checkpointed once
    trade(first, 1, "later")
    second_run = checkpoints_make(day=TOMORROW)
    assert (second_run.checkpoints, second_run.entries) == (1, 2)  # only the balance that moved
    newest = Checkpoint.objects.get(balance=first, day=TOMORROW)
    assert newest.previous_hash == checkpoint.hash
    with pytest.raises(ValueError, match="checkpointed past"):
        checkpoints_make(day=TODAY - dt.timedelta(days=1))
    assert ledger_verify() == [] and ledger_verify(full=True) == []


def test_verify_reads_only_what_came_after_the_checkpoints(two):
    first, _ = two
    assert ledger_verify_report().entries_checked == 10
    checkpoints_make(day=TODAY)
    assert ledger_verify_report().entries_checked == 0
    trade(first, 2, "new")
    report = ledger_verify_report()
    assert (report.problems, report.entries_checked) == ([], 4)
    assert ledger_verify_report(full=True).entries_checked == 14


def test_verify_from_checkpoints_still_finds_a_wrong_stored_amount_or_a_late_entry(two):
    first, second = two
    checkpoints_make(day=TODAY)
    Balance.objects.filter(pk=second.pk).update(amount=Decimal("1.00"))
    assert [p.balance_id for p in ledger_verify()] == [second.balance_id]
    Balance.objects.filter(pk=second.pk).update(amount=Decimal("51.50"))
    assert ledger_verify() == []


def disabled_triggers(sql: str, *params) -> None:
    """What a database superuser can do behind the application's back."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE balances_ledgerentry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE balances_checkpoint DISABLE TRIGGER USER")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("ALTER TABLE balances_ledgerentry ENABLE TRIGGER USER")
            cursor.execute("ALTER TABLE balances_checkpoint ENABLE TRIGGER USER")


def test_the_hash_chain_catches_an_old_entry_rewritten_with_the_triggers_disabled(two):
    first, _ = two
    checkpoints_make(day=TODAY)
    trade(first, 1, "after")
    old = LedgerEntry.objects.filter(balance=first, kind="debit").order_by("id").first()
    # The rewrite keeps every sum right: only the record of what happened changes.
    disabled_triggers("UPDATE balances_ledgerentry SET comment = 'refund agreed by phone' WHERE id = %s", old.id)
    assert ledger_verify() == []  # the cheap nightly check does not read old entries...
    problems = ledger_verify(full=True)  # ...the weekly one recomputes every hash
    assert [p.balance_id for p in problems] == [first.balance_id]
    assert "does not match its entries" in problems[0].problem and "rewritten or removed" in problems[0].problem


def test_the_hash_chain_catches_an_old_entry_deleted_with_the_triggers_disabled(two):
    _, second = two
    checkpoints_make(day=TODAY)
    old = LedgerEntry.objects.filter(balance=second, kind="credit").get()
    disabled_triggers("DELETE FROM balances_ledgerentry WHERE id = %s", old.id)
    problems = " ".join(p.problem for p in ledger_verify(full=True))
    assert "does not match its entries" in problems and "has no ledger entry" in problems


def test_a_rewritten_checkpoint_breaks_the_chain(two):
    first, _ = two
    checkpoints_make(day=TODAY)
    trade(first, 1, "after")
    checkpoints_make(day=TOMORROW)
    disabled_triggers("UPDATE balances_checkpoint SET hash = %s WHERE balance_id = %s AND day = %s",
                      "f" * 64, first.pk, TODAY)
    problems = [p.problem for p in ledger_verify()]
    assert any("names" in p and "as the previous hash" in p for p in problems)


def test_checkpoints_and_runs_are_append_only(two):
    from django.db import DatabaseError, transaction

    checkpoints_make(day=TODAY)
    for sql in ["UPDATE balances_checkpoint SET closing_amount = 0", "DELETE FROM balances_checkpointrun"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


def test_the_commands_and_the_recorded_runs(two, capsys):
    call_command("ledger_checkpoint", "--day", TODAY.isoformat())
    assert "checkpoints of" in capsys.readouterr().out
    call_command("ledger_verify")
    call_command("ledger_verify", "--full")
    out = capsys.readouterr().out
    assert "ledger_verify: OK (2 balances, 0 entries checked" in out
    assert "ledger_verify --full: OK (2 balances, 10 entries checked" in out
    runs = list(VerifyRun.objects.order_by("id").values_list("full", "problems"))
    assert runs == [(False, 0), (True, 0)]
    assert VerifyRun.objects.latest("id").finished_at <= timezone.now()
