"""The ledger's guarantees held by the database itself, and ledger_verify."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from balances import services
from balances.models import Balance, LedgerEntry, Operation, RequestId
from balances.verify import ledger_verify


@pytest.fixture
def balance(make_balance):
    balance = make_balance("100.00")
    services.ledger_debit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                          request_id="imm-1", amount=Decimal("10.00"), currency="USD", comment="x")
    return balance


@pytest.mark.parametrize("sql", [
    "UPDATE balances_ledgerentry SET realized_amount = 0",
    "UPDATE balances_ledgerentry SET comment = 'edited'",
    "DELETE FROM balances_ledgerentry",
    "UPDATE balances_operation SET amount = 1",
    "DELETE FROM balances_operation",
])
def test_history_cannot_be_updated_or_deleted_even_in_raw_sql(balance, sql):
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)


def test_the_orm_cannot_edit_or_delete_an_entry_either(balance):
    entry = LedgerEntry.objects.get(operation__request_id="imm-1")
    entry.comment = "edited"
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.parametrize("field,value", [("amount", "0"), ("realized_amount", "-1"), ("balance_after", "-1")])
def test_entry_check_constraints(balance, field, value):
    values = {"kind": "credit", "amount": Decimal("1"), "realized_amount": Decimal("1"), "balance_after": Decimal("1")}
    values[field] = Decimal(value)
    operation = Operation.objects.create(request_id=f"chk-{field}", kind="credit", balance=balance, amount=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(operation=operation, balance=balance, **values)


def test_ledger_verify_passes_on_a_consistent_ledger(balance, capsys):
    assert ledger_verify() == []
    call_command("ledger_verify")
    assert "ledger_verify: OK" in capsys.readouterr().out


def test_ledger_verify_names_a_balance_whose_amount_was_changed_behind_the_ledger(balance, make_balance, capsys):
    make_balance("5.00")
    Balance.objects.filter(pk=balance.pk).update(amount=Decimal("1000.00"))
    problems = ledger_verify()
    assert [p.balance_id for p in problems] == [balance.balance_id]
    with pytest.raises(CommandError, match="1 mismatch"):
        call_command("ledger_verify")
    assert balance.balance_id in capsys.readouterr().err


def test_ledger_verify_finds_an_entry_without_its_balance_change(balance):
    operation = Operation.objects.create(request_id="ghost", kind="credit", balance=balance, amount=Decimal("5"))
    LedgerEntry.objects.create(operation=operation, balance=balance, kind="credit", amount=Decimal("5"),
                               realized_amount=Decimal("5"), balance_after=Decimal("80.00"))
    problems = {p.problem for p in ledger_verify()}
    assert any("sum of entries" in p for p in problems)
    assert any("running sum" in p for p in problems)


def test_ledger_verify_finds_a_credit_operation_without_entry(balance):
    operation = Operation.objects.create(request_id="lost-credit", kind="credit", balance=balance,
                                         amount=Decimal("5"))
    # Written behind the ledger's back: no claim of its request_id either.
    assert sorted(p.problem for p in ledger_verify()) == [
        "operation lost-credit (credit) has no ledger entry",
        "operation lost-credit is not the one its request_id's claim names (None)"]
    RequestId.objects.create(request_id="lost-credit", operation_id=operation.pk, created_at=operation.created_at)
    assert [p.problem for p in ledger_verify()] == ["operation lost-credit (credit) has no ledger entry"]


def test_ledger_verify_finds_entries_that_the_foreign_keys_used_to_refuse(balance):
    """Operations and entries are partitioned by month: no foreign or unique key joins them in
    the database any more, so ledger_verify checks what those keys did."""
    entry = LedgerEntry.objects.select_related("operation").get(balance=balance, kind="debit")
    twin = LedgerEntry.objects.create(operation_id=entry.operation_id, balance=balance, kind=entry.kind,
                                      amount=entry.amount, realized_amount=entry.realized_amount,
                                      balance_after=entry.balance_after, created_at=entry.created_at)
    stray = LedgerEntry.objects.create(operation_id=10**12, balance=balance, kind="deposit", amount=Decimal("1"),
                                       realized_amount=Decimal("1"), balance_after=entry.balance_after)
    problems = [p.problem for p in ledger_verify()]
    assert f"operation {entry.operation.request_id} has 2 ledger entries" in problems, problems
    assert f"entry {stray.id} names operation {10**12}, which does not exist" in problems
    assert twin.id and all("does not exist" not in p for p in problems if str(twin.id) in p)


def test_the_opening_amount_is_a_ledger_entry_not_a_written_amount(make_balance):
    balance = make_balance("250.00")
    entry = LedgerEntry.objects.get(balance=balance)
    assert (entry.kind, entry.realized_amount, entry.balance_after) == ("deposit", Decimal("250.00"), Decimal("250.00"))
    assert ledger_verify() == []


def test_a_credit_beyond_the_column_range_is_refused_and_changes_nothing(make_balance, ledger_path):
    from balances.errors import AmountOutOfRange

    balance = make_balance("9999999999999999999999.00")
    with pytest.raises(AmountOutOfRange):
        services.ledger_credit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id,
                               request_id="overflow", amount=Decimal("1.00"), currency="USD")
    assert not Operation.objects.filter(request_id="overflow").exists()
    assert ledger_verify() == []


def test_the_nightly_verification_logs_each_mismatch_at_error_level(balance, caplog):
    import logging

    from balances.tasks import ledger_verify_nightly

    assert ledger_verify_nightly.delay().get() == 0
    Balance.objects.filter(pk=balance.pk).update(amount=Decimal("1.00"))
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="balances.tasks"):
        assert ledger_verify_nightly.delay().get() == 1
    assert [r.levelname for r in caplog.records if r.name == "balances.tasks"] == ["ERROR"]
    assert balance.balance_id in caplog.records[-1].getMessage()


def test_ledger_verify_catches_a_release_that_does_not_undo_its_hold(make_balance):
    """Holds are ledger entries like any other; a release must give back exactly its hold."""
    from audit.actors import Actor
    from balances.services import ledger_hold

    balance = make_balance("100.00")
    ledger_hold(balance_id=balance.balance_id, amount=Decimal("30.00"), request_id="h-1", comment="hold",
                actor=Actor.system())
    assert ledger_verify() == []
    hold = Operation.objects.get(request_id="h-1")
    # Written past the services, as a faulty or malicious writer would: 40.00 back for a 30.00 hold.
    release = Operation.objects.create(request_id="r-1", kind="release", balance=balance, amount=Decimal("40.00"),
                                       reversal_of=hold)
    RequestId.objects.create(request_id="r-1", operation_id=release.pk, created_at=release.created_at)
    LedgerEntry.objects.create(operation=release, balance=balance, kind="release", amount=Decimal("40.00"),
                               realized_amount=Decimal("40.00"), balance_after=Decimal("110.00"))
    Balance.objects.filter(pk=balance.pk).update(amount=Decimal("110.00"))
    problems = ledger_verify()
    assert [p.problem for p in problems] == ["operation r-1 does not undo what h-1 moved"]


def test_the_demo_database_keeps_its_append_only_triggers_after_every_migration(tmp_path):
    """SQLite alters a table by copying it, and a copy loses its triggers: the demo's ledger (and
    audit trail) must still refuse UPDATE and DELETE once every migration has run."""
    import os
    import sqlite3
    import subprocess
    import sys
    from pathlib import Path

    database = tmp_path / "demo.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "QUADCODE_PUBLIC_KEY_FILES": ""}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    tables = ("balances_operation", "balances_ledgerentry", "audit_auditevent", "balances_checkpoint",
              "balances_checkpointrun", "balances_requestid")
    # And every entry still appends its event to the log (balances/0010).
    assert triggers == {f"{table}_no_{op}" for table in tables for op in ("update", "delete")} | {
        "balances_ledgerentry_event"}
