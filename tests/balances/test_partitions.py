"""The ledger partitioned by month (PostgreSQL): months made ahead, every row in its month, the
rules the unique and foreign keys kept before still kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from balances import partitions
from balances.models import LedgerEntry, Operation, RequestId
from balances.services import LEDGER_ATTEMPTS, ledger_debit
from tests.conftest import ledger_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def names(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [p.name for p in partitions.partitions(cursor, table)]


def test_a_new_database_is_partitioned_by_month_from_this_one_with_months_ahead():
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as cursor:
        assert partitions.is_partitioned(cursor, "balances_operation")
        assert partitions.is_partitioned(cursor, "balances_ledgerentry")
    for table in partitions.TABLES:
        expected = [partitions.partition_name(table, partitions.add_months(partitions.month_start(now), k))
                    for k in range(4)]
        assert set(expected) <= set(names(table)) and names(table)[-1] == f"{table}_default"


def test_making_months_is_idempotent_and_check_passes(capsys):
    call_command("ledger_partitions", "--check")
    first = capsys.readouterr().out
    assert "made " not in first and "default partition rows 0" in first
    assert partitions.ensure_months(connection, ahead=3) == []
    call_command("ledger_partitions", "--ahead", "5")
    made = capsys.readouterr().out
    assert made.count("made ") in (0, 4)  # two more months of each table (none if an earlier test made them)
    assert partitions.ensure_months(connection, ahead=5) == []


@pytest.mark.parametrize("path", sorted(LEDGER_ATTEMPTS))
def test_an_operation_its_claim_and_its_entry_share_one_time_and_month(make_balance, monkeypatch, path):
    from balances.services import ledger as ledger_module

    balance = make_balance("100.00")
    monkeypatch.setitem(ledger_module.LEDGER_ATTEMPTS, "postgresql", LEDGER_ATTEMPTS[path])
    ledger_debit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id, request_id=f"t-{path}",
                 amount=Decimal("1.00"), currency="USD")
    operation = Operation.objects.get(request_id=f"t-{path}")
    claim = RequestId.objects.get(request_id=f"t-{path}")
    entry = LedgerEntry.objects.get(operation=operation)
    assert claim.operation_id == operation.pk
    assert claim.created_at == operation.created_at == entry.created_at
    month = partitions.partition_name("balances_ledgerentry", partitions.month_start(entry.created_at))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {month} WHERE operation_id = %s", [operation.pk])
        assert cursor.fetchone()[0] == 1


def test_claims_are_append_only(make_balance):
    make_balance("100.00")
    before = ledger_snapshot()
    claims = list(RequestId.objects.values_list("request_id", "operation_id"))
    for statement in ("UPDATE balances_requestid SET operation_id = operation_id + 1",
                      "DELETE FROM balances_requestid"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(statement)
    assert list(RequestId.objects.values_list("request_id", "operation_id")) == claims
    assert ledger_snapshot() == before


def test_the_database_refuses_a_second_reversal_of_one_operation_whoever_writes_it(make_balance):
    balance = make_balance("100.00")
    original = Operation.objects.get(balance=balance)
    Operation.objects.create(request_id="rev-1", kind="reversal_out", balance=balance, amount=Decimal("100.00"),
                             reversal_of=original)
    with pytest.raises(IntegrityError), transaction.atomic():
        Operation.objects.create(request_id="rev-2", kind="reversal_out", balance=balance, amount=Decimal("100.00"),
                                 reversal_of=original)
    assert Operation.objects.filter(reversal_of=original).count() == 1


def test_check_fails_when_a_default_partition_holds_rows(make_balance, capsys):
    balance = make_balance("100.00")
    far = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO balances_operation (request_id, kind, balance_id, amount, force, created_at) "
                       "VALUES ('far', 'deposit', %s, 1, false, %s)", [balance.pk, far])
    with pytest.raises(SystemExit) as exit_:
        call_command("ledger_partitions", "--check")
    assert exit_.value.code == 1
    assert "balances_operation_default holds rows" in capsys.readouterr().err
