"""Old months leave the live ledger: exported with a SHA-256 manifest, verified (every archived
checkpoint recomputed from the export), detached and dropped; ledger_verify still verifies, and an
archived request_id is still never applied again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from balances import partitions
from balances.errors import RequestIdConflict
from balances.models import Balance, LedgerArchive, LedgerEntry, Operation, RequestId
from balances.services import ledger_credit, ledger_debit
from balances.services.checkpoints import checkpoints_make
from balances.verify import ledger_verify
from tests.conftest import ledger_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

JAN = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
keep_one_month = override_settings(B2B_LEDGER_KEEP_MONTHS=1)


def backdate(request_ids: list[str], when: dt.datetime) -> None:
    """Move operations (and their entries and claims) to `when`, as if made then: the rows move to
    that month's partition. Triggers off for the rewrite, as only a test may."""
    with connection.cursor() as cursor:
        for table in ("balances_ledgerentry", "balances_operation", "balances_requestid"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            cursor.execute("UPDATE balances_ledgerentry SET created_at = %s WHERE operation_id IN "
                           "(SELECT operation_id FROM balances_requestid WHERE request_id = ANY(%s))",
                           [when, request_ids])
            cursor.execute("UPDATE balances_operation SET created_at = %s WHERE request_id = ANY(%s)",
                           [when, request_ids])
            cursor.execute("UPDATE balances_requestid SET created_at = %s WHERE request_id = ANY(%s)",
                           [when, request_ids])
        finally:
            for table in ("balances_ledgerentry", "balances_operation", "balances_requestid"):
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def rows_in(name: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f"SELECT count(*) FROM {name}")
        return cursor.fetchone()[0]


@pytest.fixture
def history(make_balance):
    """Two balances trading in January and February 2025, checkpointed day by day through
    February, plus a debit today."""
    partitions.ensure_months(connection, ahead=3, since=JAN)
    first, second = make_balance("0.00"), make_balance("0.00")
    steps = [  # (balance, kind, amount, when)
        (first, "credit", "100.00", JAN.replace(day=5)), (second, "credit", "50.00", JAN.replace(day=10)),
        (first, "debit", "30.00", JAN.replace(day=20, hour=23, minute=59)),
        (first, "credit", "10.00", JAN.replace(month=2, day=3)), (second, "debit", "5.00", JAN.replace(month=2, day=4)),
    ]
    for n, (balance, kind, amount, when) in enumerate(steps):
        post = ledger_credit if kind == "credit" else ledger_debit
        post(customer_id=balance.customer.customer_id, balance_id=balance.balance_id, request_id=f"old-{n}",
             amount=Decimal(amount), currency="USD")
        backdate([f"old-{n}"], when)
    # The opening amounts were zero: no entries. Checkpoint every day of the two months.
    day = JAN.date()
    while day <= dt.date(2025, 2, 28):
        checkpoints_make(day=day)
        day += dt.timedelta(days=1)
    ledger_debit(customer_id=first.customer.customer_id, balance_id=first.balance_id, request_id="new-0",
                 amount=Decimal("1.00"), currency="USD")
    return first, second


def archive(tmp_path, month="2025-01", *extra):
    call_command("ledger_archive", "--month", month, "--to", str(tmp_path), *extra)
    return tmp_path / f"ledger-{month}-to-{month[:5]}{int(month[5:]) + 1:02d}"


def test_history_lands_in_its_months_partitions_not_the_default(history):
    assert rows_in("balances_ledgerentry_2025_01") == 3
    assert rows_in("balances_ledgerentry_2025_02") == 2
    assert rows_in("balances_operation_2025_01") == 3
    assert rows_in("balances_ledgerentry_default") == rows_in("balances_operation_default") == 0
    assert ledger_verify() == [] and ledger_verify(full=True) == []


@keep_one_month
def test_an_export_without_remove_verifies_and_changes_nothing(history, tmp_path, capsys):
    before = ledger_snapshot()
    folder = archive(tmp_path)
    out = capsys.readouterr().out
    assert "verified: 3 checkpoints recomputed from 3 entries" in out and "kept:" in out
    assert ledger_snapshot() == before and rows_in("balances_ledgerentry_2025_01") == 3
    assert not LedgerArchive.objects.exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["operations"], manifest["entries"]) == (3, 3)
    assert manifest["starts"].startswith("2025-01-01") and manifest["ends"].startswith("2025-02-01")
    # The manifest's sums are the files' own, and sha256sum agrees (SHA256SUMS is its format).
    for name, meta in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == meta["sha256"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 5


@keep_one_month
def test_remove_detaches_and_drops_the_month_and_the_ledger_still_verifies(history, tmp_path, capsys):
    first, second = history
    amounts = dict(Balance.objects.values_list("balance_id", "amount"))
    folder = archive(tmp_path, "2025-01", "--remove")
    assert "removed: balances_operation_2025_01 and balances_ledgerentry_2025_01" in capsys.readouterr().out
    assert rows_in("balances_ledgerentry_2025_01") is None and rows_in("balances_operation_2025_01") is None
    assert LedgerEntry.objects.count() == 3 and Operation.objects.count() == 3
    assert dict(Balance.objects.values_list("balance_id", "amount")) == amounts  # nothing moved
    recorded = LedgerArchive.objects.get()
    assert (recorded.operations, recorded.entries, recorded.last_day) == (3, 3, dt.date(2025, 1, 31))
    assert recorded.manifest_sha256 == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    # Claims stay: the archived requests keep their request_ids.
    assert RequestId.objects.filter(request_id__startswith="old-").count() == 5
    assert ledger_verify() == [] and ledger_verify(full=True) == []
    call_command("ledger_archive_verify", str(folder))
    assert "ok:" in capsys.readouterr().out


@keep_one_month
def test_a_retry_of_an_archived_request_is_refused_and_applies_nothing(history, tmp_path):
    first, _ = history
    archive(tmp_path, "2025-01", "--remove")
    before = ledger_snapshot()
    with pytest.raises(RequestIdConflict, match="archived"):
        ledger_debit(customer_id=first.customer.customer_id, balance_id=first.balance_id, request_id="old-2",
                     amount=Decimal("30.00"), currency="USD")
    assert ledger_snapshot() == before
    # A retry of a live month's request is still a replay, and a new one applies.
    replay = ledger_credit(customer_id=first.customer.customer_id, balance_id=first.balance_id,
                           request_id="old-3", amount=Decimal("10.00"), currency="USD")
    assert replay.replayed and ledger_snapshot() == before
    ledger_credit(customer_id=first.customer.customer_id, balance_id=first.balance_id, request_id="new-1",
                  amount=Decimal("2.00"), currency="USD")
    assert ledger_verify() == []


@keep_one_month
def test_a_tampered_export_does_not_verify(history, tmp_path):
    folder = archive(tmp_path)
    entries = folder / "entries.csv"
    entries.write_text(entries.read_text().replace("30.00000000", "3.00000000", 1))
    with pytest.raises(CommandError, match="problems"):
        call_command("ledger_archive_verify", str(folder))
    # Rewriting the manifest's sums to match does not help: the checkpoints no longer recompute.
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["entries.csv"].update(sha256=hashlib.sha256(entries.read_bytes()).hexdigest(),
                                            bytes=entries.stat().st_size)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    from balances.archive import verify_archive
    problems = verify_archive(folder, against_live=False).problems
    assert len(problems) == 1 and "does not match the exported entries" in problems[0]
    # And a removal over a bad export refuses, dropping nothing.
    with pytest.raises(CommandError, match="does not verify"):
        archive(tmp_path, "2025-01", "--remove")
    assert rows_in("balances_ledgerentry_2025_01") == 3


def test_refusals_change_nothing(history, tmp_path):
    before = ledger_snapshot()
    with override_settings(B2B_LEDGER_KEEP_MONTHS=24), pytest.raises(CommandError, match="B2B_LEDGER_KEEP_MONTHS"):
        archive(tmp_path, "2025-01", "--remove")
    with keep_one_month:
        with pytest.raises(CommandError, match="not the oldest"):
            archive(tmp_path, "2025-02", "--remove")
        with pytest.raises(CommandError, match="YYYY-MM"):
            call_command("ledger_archive", "--month", "2025-1x", "--to", str(tmp_path))
        with pytest.raises(CommandError, match="no partition"):
            call_command("ledger_archive", "--month", "2024-12", "--to", str(tmp_path))
    assert ledger_snapshot() == before and rows_in("balances_ledgerentry_2025_01") == 3
    assert not any(tmp_path.iterdir())


@keep_one_month
def test_a_month_without_its_checkpoint_run_is_refused(make_balance, tmp_path):
    partitions.ensure_months(connection, ahead=3, since=JAN)
    balance = make_balance("0.00")
    ledger_credit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id, request_id="jan",
                  amount=Decimal("5.00"), currency="USD")
    backdate(["jan"], JAN.replace(day=9))
    with pytest.raises(CommandError, match="no checkpoint run of 2025-01-31"):
        archive(tmp_path, "2025-01", "--remove")
    assert rows_in("balances_ledgerentry_2025_01") == 1


@keep_one_month
def test_an_entry_numbered_after_midnight_travels_as_a_border_copy(make_balance, tmp_path, capsys):
    """A transaction that began before midnight can take its id after one that began after: the
    checkpoint of the last day then covers an entry of the next month. The archive carries a copy,
    so its checkpoints still recompute, and the entry stays live."""
    partitions.ensure_months(connection, ahead=3, since=JAN)
    balance = make_balance("0.00")
    for rid in ("a", "b", "c"):
        ledger_credit(customer_id=balance.customer.customer_id, balance_id=balance.balance_id, request_id=rid,
                      amount=Decimal("1.00"), currency="USD")
    backdate(["a"], JAN.replace(day=31, hour=23))
    backdate(["b"], JAN.replace(month=2, day=1, hour=0))  # numbered before c, made after midnight
    backdate(["c"], JAN.replace(day=31, hour=23, minute=59))
    checkpoints_make(day=dt.date(2025, 1, 31))
    checkpoints_make(day=dt.date(2025, 2, 1))
    folder = archive(tmp_path, "2025-01", "--remove")
    assert "3 entries" in capsys.readouterr().out  # a and c archived, b hashed from its copy
    assert json.loads((folder / "manifest.json").read_text())["files"]["border_entries.csv"]["rows"] == 1
    assert list(LedgerEntry.objects.values_list("operation__request_id", flat=True)) == ["b"]
    assert ledger_verify() == [] and ledger_verify(full=True) == []
