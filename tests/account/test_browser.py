"""The customer's wallet pages in Debian's Chromium, desktop and phone width: the statement and
its CSV, a second factor set up and used for a withdrawal that a staff member approves, a
deposit announced and credited, an API session. Screenshots land in artifacts/screenshots/."""

from __future__ import annotations

import base64
import csv
import io
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp

from backoffice.models import AdjustmentRequest
from balances.models import Balance
from balances.services import ledger_credit, ledger_debit
from tests.browser import SCREENSHOTS, log_in, needs_chromium

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def customer_page(browser, live_server, trader):
    """A logged-in customer's page, and a function that takes it to phone width for a screenshot."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, live_server.url, trader.user.username, "pw-ann-2026")
    yield page
    context.close()


def both_widths(page, name: str) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size({"width": 1100, "height": 900})


def staff_approves(browser, live_server, request_pk: int) -> None:
    boss = get_user_model().objects.create_superuser(f"boss{request_pk}", "b@example.com", "pw-boss-2026")
    context = browser.new_context(viewport={"width": 1400, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.get_by_label("Username").fill(boss.username)
        page.get_by_label("Password").fill("pw-boss-2026")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/admin/backoffice/adjustmentrequest/")
        page.get_by_role("button", name="Approve").click()
        page.get_by_text(f"Request {request_pk}: posted").wait_for()
    finally:
        context.close()


def test_the_statement_and_its_csv_download(customer_page, live_server, trader):
    usd = trader.balances.get(currency="USD")
    for i in range(3):
        ledger_debit(customer_id=trader.customer_id, balance_id=usd.balance_id, request_id=f"bd-{i}",
                     amount=Decimal("10.00"), currency="USD")
        ledger_credit(customer_id=trader.customer_id, balance_id=usd.balance_id, request_id=f"bc-{i}",
                      amount=Decimal("18.50"), currency="USD")
    page = customer_page
    page.goto(f"{live_server.url}/account/statement/?balance_id={usd.balance_id}")
    assert page.locator("#closing").inner_text() == "1025.50"
    assert page.locator("tr.kind-debit").count() == 3
    both_widths(page, "account-statement")
    with page.expect_download() as download:
        page.locator("#csv").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
    assert rows[0] == ["time", "kind", "amount", "balance_after", "description"] and len(rows) == 8
    assert rows[-1][1:] == ["credit", "18.50", "1025.50", "Option closed"]


def test_enrol_withdraw_staff_approve_and_see_the_new_balance(customer_page, browser, live_server, trader):
    page = customer_page
    page.goto(f"{live_server.url}/account/withdraw/")
    page.get_by_text("first set up a second factor").wait_for()
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_role("button", name="Set up a second factor").click()
    both_widths(page, "account-security-enrol")
    uri = page.locator("#otpauth-uri").inner_text()
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code from your authenticator app").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Your second factor is active.").wait_for()

    page.goto(f"{live_server.url}/account/withdraw/")
    page.get_by_label("Balance").select_option(f"{trader.customer_id}_USD")
    page.get_by_label("Amount").fill("250.00")
    page.get_by_label("Code from your authenticator app").fill(f"{totp(key, drift=1):06d}")  # the next code
    both_widths(page, "account-withdraw-form")
    page.get_by_role("button", name="Request the withdrawal").click()
    page.get_by_text("Request received").wait_for()
    reference = int(page.locator("#request-reference").inner_text())
    page.goto(f"{live_server.url}/account/")
    card = page.locator(f"#balance-{trader.customer_id}_USD")
    assert (card.locator(".held").inner_text(), card.locator(".available").inner_text()) == ("250.00", "750.00")
    both_widths(page, "account-overview-pending")

    staff_approves(browser, live_server, reference)
    page.reload()
    assert page.locator("#requests td.state").first.inner_text() == "Posted"
    assert (card.locator(".total").inner_text(), card.locator(".held").inner_text()) == ("750.00", "0.00")
    both_widths(page, "account-overview-approved")
    assert Balance.objects.get(balance_id=f"{trader.customer_id}_USD").amount == Decimal("750.00")


def test_a_deposit_announced_and_credited_by_staff(customer_page, browser, live_server, trader):
    page = customer_page
    page.goto(f"{live_server.url}/account/deposit/")
    assert page.locator("#reference").inner_text().startswith(f"W-{trader.customer_id}-")
    page.get_by_label("Balance").select_option(f"{trader.customer_id}_USD")
    page.get_by_label("Amount").fill("125.00")
    page.get_by_label("Date of the transfer").fill("2026-12-01")
    page.get_by_label("Your transfer's reference").fill("SEPA 2026-12-01 #88")
    both_widths(page, "account-deposit")
    page.get_by_role("button", name="Announce the transfer").click()
    page.get_by_text("Request received").wait_for()
    request = AdjustmentRequest.objects.get()
    staff_approves(browser, live_server, request.pk)
    page.goto(f"{live_server.url}/account/")
    card = page.locator(f"#balance-{trader.customer_id}_USD")
    assert card.locator(".available").inner_text() == "1125.00"
    assert card.locator("tr.kind-deposit").first.locator("td").nth(1).inner_text() == "Deposit"


def test_an_api_session_for_a_trading_program(customer_page, live_server, trader, simulator):
    page = customer_page
    page.goto(f"{live_server.url}/account/api-session/")
    page.get_by_label("Program name").fill("GridBot")
    page.get_by_label("Version").fill("2.1")
    page.get_by_label("Strategy").fill("mean reversion")
    page.get_by_label("Platform id").fill("9")
    page.get_by_role("button", name="Open a session").click()
    ssid = page.locator("#ssid").inner_text()
    assert re.fullmatch(r"[0-9a-f]{32}", ssid)
    both_widths(page, "account-api-session")
    assert simulator.calls()[-1]["body"]["user_agent"] == "GridBot/2.1 (mean reversion)"
