"""Reconciliation with Quadcode's operations report: each kind of break, re-imports, every kind
of bad input (named by line, nothing stored), resolution through the staff controls, and the
simulator's own report of what its trading room did."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from balances.models import Balance
from reconciliation.errors import BreakResolved
from reconciliation.models import Break, ReportImport
from reconciliation.services import break_resolve
from tests.backoffice.conftest import staff_member
from tests.conftest import body, ids

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
HEADER = "request_id,customer_id,balance_id,kind,amount,currency_code,realized_amount,created_at"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def reconcile(tmp_path, text: str, *args: str) -> subprocess.CompletedProcess:
    report = tmp_path / "report.csv"
    report.write_text(text)
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                                         f"/{db['NAME']}", "QUADCODE_PUBLIC_KEY_FILES": "", "QUADCODE_API_URL": ""}
    return subprocess.run([sys.executable, "manage.py", "reconcile_quadcode", str(report), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def trades(make_balance, quadcode):
    """Ours: d1 (debit 10), c1 (credit 18.50), late (debit 5: Quadcode gave up on it), declined (402)."""
    balance = make_balance("20.00")
    customer_id, balance_id = ids(balance)
    for operation, request_id, amount in [("debit", "d1", "10.00"), ("credit", "c1", "18.50"),
                                          ("debit", "late", "5.00"), ("debit", "declined", "999.00")]:
        quadcode.post(customer_id, balance_id, operation, body(amount, request_id=request_id))
    return balance


def rows(balance, *specs) -> str:
    customer_id, balance_id = ids(balance)
    now = timezone.now()
    lines = [HEADER]
    for request_id, kind, amount, realized, *rest in specs:
        currency = rest[0] if rest else "USD"
        lines.append(f"{request_id},{customer_id},{balance_id},{kind},{amount},{currency},{realized},{iso(now)}")
    return "\n".join(lines) + "\n"


def window() -> list[str]:
    now = timezone.now()
    return ["--from", iso(now - dt.timedelta(hours=1)), "--to", iso(now + dt.timedelta(hours=1))]


def test_every_kind_of_break_is_found_stored_and_counted(tmp_path, trades):
    report = rows(trades, ("d1", "debit", "10.00", "10.00"), ("c1", "credit", "18.00", ""),
                  ("gone", "debit", "3.00", "3.00"), ("declined", "debit", "999.00", "999.00"))
    result = reconcile(tmp_path, report, *window())
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1] == "reconcile: matched 1, missing_here 2, missing_there 1, mismatched 1"
    breaks = {(b.kind, b.request_id): b for b in Break.objects.all()}
    assert set(breaks) == {("missing_here", "gone"), ("missing_here", "declined"), ("missing_there", "late"),
                           ("mismatched", "c1")}
    assert breaks[("mismatched", "c1")].details["differences"] == ["amount"]
    assert breaks[("missing_here", "declined")].details["why"] == "declined here"
    assert breaks[("missing_there", "late")].details["ours"]["amount"] == "5.00000000"
    assert AuditEvent.objects.get(action="reconciliation_imported").details["new_breaks"] == 4


def test_a_report_that_agrees_exits_0(tmp_path, trades):
    report = rows(trades, ("d1", "debit", "10.00", "10.00"), ("c1", "credit", "18.50", ""),
                  ("late", "debit", "5.00", "5.00"))
    result = reconcile(tmp_path, report, *window())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "reconcile: matched 3, missing_here 0, missing_there 0, mismatched 0"


def test_each_field_that_differs_is_a_mismatch(tmp_path, trades, make_balance):
    other = make_balance("1.00")
    cases = [("d1", "credit", "10.00", ""), ("d1", "debit", "10.01", "10.00"), ("d1", "debit", "10.00", "9.00"),
             ("d1", "debit", "10.00", "10.00", "EUR")]
    expected = [["kind"], ["amount"], ["realized_amount"], ["currency_code"]]
    for case, differences in zip(cases, expected, strict=True):
        Break.objects.all().delete()
        reconcile(tmp_path, rows(trades, case), *window())
        assert Break.objects.get(kind="mismatched").details["differences"] == differences
    Break.objects.all().delete()
    reconcile(tmp_path, rows(other, ("d1", "debit", "10.00", "10.00")), *window())
    assert Break.objects.get(kind="mismatched").details["differences"] == ["customer_id", "balance_id"]


def test_re_importing_the_same_report_adds_no_duplicate_breaks(tmp_path, trades):
    report = rows(trades, ("c1", "credit", "18.00", ""), ("gone", "debit", "3.00", "3.00"))
    first, second = reconcile(tmp_path, report, *window()), reconcile(tmp_path, report, *window())
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
    assert Break.objects.count() == 4 and ReportImport.objects.count() == 2  # gone, c1, late, d1 (missing there)
    assert {b.last_seen_id for b in Break.objects.all()} == {ReportImport.objects.latest("id").pk}


def test_the_window_defaults_to_the_report_and_the_edges_tolerate_the_skew(tmp_path, trades, settings):
    # The report names only c1; d1 and late are ours, made seconds away: within the 5 minutes' skew
    # of the report's own window, so a report that lacks them is not a break.
    result = reconcile(tmp_path, rows(trades, ("c1", "credit", "18.50", "")))
    assert result.stdout.splitlines()[-1] == "reconcile: matched 1, missing_here 0, missing_there 0, mismatched 0"
    assert result.returncode == 0


def test_other_column_names_are_mapped(tmp_path, trades):
    customer_id, balance_id = ids(trades)
    text = ("Operation ID,Client,Account,Type,Amount,Currency,Taken,Time\n"
            f"d1,{customer_id},{balance_id},debit,10.00,USD,10.00,{iso(timezone.now())}\n")
    columns = ("request_id=Operation ID,customer_id=Client,balance_id=Account,kind=Type,amount=Amount,"
               "currency_code=Currency,realized_amount=Taken,created_at=Time")
    result = reconcile(tmp_path, text, "--columns", columns)
    assert result.stdout.splitlines()[-1] == "reconcile: matched 1, missing_here 0, missing_there 0, mismatched 0"


@pytest.mark.parametrize("text,args,message", [
    (HEADER + "\nd1,c,b,debit,10.00,USD\n", (), "line 2: 6 fields, the header has 8"),
    (HEADER + ",extra\n", (), "line 1: unknown column 'extra'"),
    ("request_id,amount\n", (), "line 1: missing column(s) customer_id"),
    (HEADER + "\nd1,c1,b1,debit,ten,USD,10,2026-12-01T00:00:00Z\n", (), "line 2: amount must be a decimal string"),
    (HEADER + "\nd1,c1,b1,debit,10.001,USD,10,2026-12-01T00:00:00Z\n", (), "line 2: amount has more decimals"),
    (HEADER + "\nd1,c1,b1,refund,10,USD,10,2026-12-01T00:00:00Z\n", (), "line 2: kind must be debit or credit"),
    (HEADER + "\nd1,c1,b1,debit,10,USD,,2026-12-01T00:00:00Z\n", (), "line 2: realized_amount is required"),
    (HEADER + "\nd1,c1,b1,debit,10,USD,10,yesterday\n", (), "line 2: created_at 'yesterday' is not an ISO 8601"),
    (HEADER + "\nd1,c1,b1,debit,10,USD,10,2026-12-01T00:00:00Z\n\nd1,c1,b1,debit,10,USD,10,2026-12-01T00:00:01Z\n",
     (), "line 4: request_id 'd1' is on line 2 already"),
    (HEADER + "\nd1,c 1,b1,debit,10,USD,10,2026-12-01T00:00:00Z\n", (), "line 2: customer_id 'c 1' is not an id"),
    (HEADER + "\n", (), "give --from and --to"),
    (HEADER + "\n", ("--columns", "nonsense=X"), "--columns: 'nonsense' is not one of"),
    (HEADER + "\n", ("--from", "last week"), "--from must be an ISO 8601 time"),
])
def test_bad_input_is_named_by_line_and_nothing_is_stored(tmp_path, trades, text, args, message):
    events = AuditEvent.objects.count()
    result = reconcile(tmp_path, text, *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert (ReportImport.objects.count(), Break.objects.count(), AuditEvent.objects.count()) == (0, 0, events)


def test_a_break_is_resolved_with_a_note_and_a_correction_through_the_staff_controls(tmp_path, trades,
                                                                                     django_user_model):
    reconcile(tmp_path, rows(trades, ("c1", "credit", "19.00", "")), *window())
    mismatch = Break.objects.get(kind="mismatched")
    staff = staff_member(django_user_model, "recon", "balances.adjust_balance", "reconciliation.change_break")
    resolved = break_resolve(break_id=mismatch.pk, note="Quadcode paid out 0.50 more; credited after the call",
                             actor=Actor.staff(staff), correction_kind="correction_in",
                             correction_amount=Decimal("0.50"))
    assert (resolved.resolved_by, resolved.resolution) == ("recon", "Quadcode paid out 0.50 more; credited after "
                                                                     "the call")
    correction = AdjustmentRequest.objects.get(pk=resolved.correction_id)
    assert (correction.state, correction.kind, correction.amount) == ("posted", "correction_in", Decimal("0.50"))
    assert Balance.objects.get(pk=trades.pk).amount == Decimal("24.00")  # 20 - 10 + 18.50 - 5 + 0.50
    event = AuditEvent.objects.get(action="reconciliation_break_resolved")
    assert (event.actor, event.details["correction_request"]) == ("recon", correction.pk)
    with pytest.raises(BreakResolved):
        break_resolve(break_id=mismatch.pk, note="again", actor=Actor.staff(staff))


def test_breaks_are_resolved_in_the_admin(tmp_path, trades, client, django_user_model):
    from django.contrib.auth import get_user_model

    reconcile(tmp_path, rows(trades, ("gone", "debit", "3.00", "3.00")), *window())
    item = Break.objects.get(kind="missing_here")
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-2026"))
    listing = client.get("/admin/reconciliation/break/", HTTP_HOST="localhost").content.decode()
    assert "gone" in listing and "late" in listing
    page = client.get(f"/admin/reconciliation/break/{item.pk}/change/", HTTP_HOST="localhost").content.decode()
    assert "Resolve the break" in page and "&quot;theirs&quot;" in page
    client.post(f"/admin/reconciliation/break/{item.pk}/resolve/", {"note": "a test order Quadcode voided",
                                                                   "correction": "", "amount": "", "key": "k"},
                HTTP_HOST="localhost")
    item.refresh_from_db()
    assert (item.resolved, item.resolved_by) == (True, "root")
    still_open = client.get("/admin/reconciliation/break/", HTTP_HOST="localhost").content.decode()
    assert f"/admin/reconciliation/break/{item.pk}/change/" not in still_open and "late" in still_open


def test_the_simulators_report_reconciles_with_what_its_trading_room_did(tmp_path, live_server, simulator,
                                                                         gateway_settings, trader):
    usd = trader.balances.get(currency="USD")
    request = urllib.request.Request(f"{simulator.url}/_control/trade", method="POST",
                                     data=json.dumps({"customer_id": trader.customer_id,
                                                      "balance_id": usd.balance_id}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "trade done: 1000.00 - 10.00 + 18.50 = 1008.50 USD" in response.read().decode()
    with urllib.request.urlopen(f"{simulator.url}/_control/report", timeout=10) as response:
        report = response.read().decode()
    assert report.splitlines()[0] == HEADER and len(report.splitlines()) == 3  # the retry made no third operation
    result = reconcile(tmp_path, report)
    assert result.stdout.splitlines()[-1] == "reconcile: matched 2, missing_here 0, missing_there 0, mismatched 0"
