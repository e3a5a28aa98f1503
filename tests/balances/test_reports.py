"""Statements and liabilities against figures worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from balances.models import Balance, Kind
from balances.reports import daily_statement, liabilities
from balances.services import (
    balance_open,
    ledger_adjustment_post,
    ledger_credit,
    ledger_debit,
    ledger_hold,
    ledger_hold_release,
)
from balances.services.checkpoints import checkpoints_make

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system()


def backdate(request_id: str, when: dt.datetime) -> None:
    """Move an entry to another day, as if it had been made then (tests only: the trigger is
    the superuser's to lift)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE balances_ledgerentry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE balances_operation DISABLE TRIGGER USER")
        cursor.execute("UPDATE balances_ledgerentry SET created_at = %s WHERE operation_id = "
                       "(SELECT id FROM balances_operation WHERE request_id = %s)", [when, request_id])
        cursor.execute("UPDATE balances_operation SET created_at = %s WHERE request_id = %s", [when, request_id])
        cursor.execute("ALTER TABLE balances_ledgerentry ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE balances_operation ENABLE TRIGGER USER")


@pytest.fixture
def history(make_customer):
    """Two days of a USD balance (day 1: opening 100, -10 debit, +25 credit, hold 30;
    day 2: +50 deposit, -5 correction, release of the hold, -40 withdrawal) and a EUR one."""
    customer = make_customer()
    day1 = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
    day2 = day1 + dt.timedelta(days=1)
    usd = balance_open(customer_id=customer.customer_id, balance_id="rep_USD", currency="USD",
                       amount=Decimal("100.00"))
    ids = {"customer_id": customer.customer_id, "balance_id": "rep_USD", "currency": "USD"}
    ledger_debit(request_id="r-d", amount=Decimal("10.00"), **ids)
    ledger_credit(request_id="r-c", amount=Decimal("25.00"), **ids)
    ledger_hold(balance_id="rep_USD", amount=Decimal("30.00"), request_id="r-h", comment="", actor=SYSTEM)
    for request_id in ("open:rep_USD", "r-d", "r-c", "r-h"):
        backdate(request_id, day1)
    ledger_adjustment_post(balance_id="rep_USD", kind=Kind.DEPOSIT, amount=Decimal("50.00"), request_id="r-p",
                           comment="", actor=SYSTEM)
    ledger_adjustment_post(balance_id="rep_USD", kind=Kind.CORRECTION_OUT, amount=Decimal("5.00"), request_id="r-o",
                           comment="", actor=SYSTEM)
    ledger_hold_release(hold_request_id="r-h", request_id="r-r", comment="", actor=SYSTEM)
    ledger_adjustment_post(balance_id="rep_USD", kind=Kind.WITHDRAWAL, amount=Decimal("40.00"), request_id="r-w",
                           comment="", actor=SYSTEM)
    for request_id in ("r-p", "r-o", "r-r", "r-w"):
        backdate(request_id, day2)
    eur = balance_open(customer_id=customer.customer_id, balance_id="rep_EUR", currency="EUR",
                       amount=Decimal("7.50"))
    backdate("open:rep_EUR", day1)
    for balance in (usd, eur):
        Balance.objects.filter(pk=balance.pk).update(created_at=day1)
        balance.refresh_from_db()
    return usd, eur, day1.date(), day2.date()


def test_the_daily_statement_adds_up_as_worked_out_by_hand(history):
    usd, _, day1, day2 = history
    rows = daily_statement(balance=usd, start=day1 - dt.timedelta(days=1), end=day2)
    figures = [(r.opening, r.debits, r.credits, r.deposits, r.withdrawals, r.corrections, r.holds, r.closing)
               for r in rows]
    D = Decimal
    assert figures == [
        (D(0), D(0), D(0), D(0), D(0), D(0), D(0), D(0)),  # the day before: nothing yet
        # 0 - 10 + 25 + 100 - 0 + 0 - 30 = 85
        (D(0), D("10.00"), D("25.00"), D("100.00"), D(0), D(0), D("30.00"), D("85.00")),
        # 85 + 50 - 40 - 5 - (-30) = 120
        (D("85.00"), D(0), D(0), D("50.00"), D("40.00"), D("-5.00"), D("-30.00"), D("120.00")),
    ]
    assert rows[-1].closing == usd.amount


def test_the_statement_command_prints_a_line_per_day(history, capsys):
    usd, _, day1, day2 = history
    call_command("ledger_statement", "rep_USD", "--from", day1.isoformat(), "--to", day2.isoformat())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["day", "opening", "debits", "credits", "deposits", "withdrawals", "corrections",
                                "holds", "closing"]
    assert lines[1].split() == [day1.isoformat(), "0.00", "10.00", "25.00", "100.00", "0.00", "0.00", "30.00", "85.00"]
    assert lines[2].split()[-1] == "120.00"


def test_liabilities_now_and_at_past_moments_with_and_without_checkpoints(history):
    usd, eur, day1, day2 = history
    now = {line.currency: (line.owed, line.held, line.balances) for line in liabilities()}
    assert now == {"EUR": (Decimal("7.50"), Decimal(0), 1), "USD": (Decimal("120.00"), Decimal(0), 1)}
    end_of_day1 = dt.datetime.combine(day1, dt.time(23, 59), dt.UTC)
    expected = {"EUR": (Decimal("7.50"), Decimal(0), 1), "USD": (Decimal("115.00"), Decimal("30.00"), 1)}
    # 85 available + 30 held = 115 owed at the end of day 1
    assert {line.currency: (line.owed, line.held, line.balances) for line in liabilities(at=end_of_day1)} == expected
    checkpoints_make(day=day1)
    checkpoints_make(day=day2)
    assert {line.currency: (line.owed, line.held, line.balances) for line in liabilities(at=end_of_day1)} == expected
    before = dt.datetime.combine(day1, dt.time(8), dt.UTC)
    assert liabilities(at=before) == []  # the balances were opened later (by their own time)
    later = {line.currency: line.owed for line in liabilities(at=timezone.now())}
    assert later == {"EUR": Decimal("7.50"), "USD": Decimal("120.00")}


def test_the_liabilities_command(history, capsys):
    call_command("liabilities")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["EUR", "7.50", "0.00", "1"] and lines[2].split() == ["USD", "120.00", "0.00", "1"]


def test_the_reports_in_the_admin_with_their_csv(history, client):
    from django.contrib.auth import get_user_model

    usd, _, day1, day2 = history
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw-root-2026"))
    index = client.get("/admin/", HTTP_HOST="localhost").content.decode()
    assert "Liabilities to customers" in index and "Daily statement of a balance" in index
    page = client.get("/admin/reports/liabilities/", HTTP_HOST="localhost").content.decode()
    assert "<td>USD</td><td>120.00</td><td>0.00</td><td>1</td>" in page
    csv_text = client.get("/admin/reports/liabilities/?format=csv&at=2026-11-10T23:59:00Z", HTTP_HOST="localhost")
    assert csv_text.content.decode().splitlines() == ["currency,owed,held,balances", "EUR,7.50,0.00,1",
                                                      "USD,115.00,30.00,1"]
    query = f"balance_id=rep_USD&from={day1.isoformat()}&to={day2.isoformat()}"
    statement = client.get(f"/admin/reports/statement/?{query}&format=csv", HTTP_HOST="localhost").content.decode()
    assert statement.splitlines()[0] == "day,opening,debits,credits,deposits,withdrawals,corrections,holds,closing"
    assert statement.splitlines()[2] == f"{day2.isoformat()},85.00,0.00,0.00,50.00,40.00,-5.00,-30.00,120.00"
    bad = client.get("/admin/reports/statement/?balance_id=rep_USD&from=x&to=y", HTTP_HOST="localhost")
    assert bad.status_code == 200 and "Give the period as two dates" in bad.content.decode()
