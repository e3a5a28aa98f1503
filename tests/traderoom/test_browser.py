"""The end user's half in a real browser: Debian's Chromium driven by Playwright, against our
app (live server) and the gateway simulator. Screenshots land in artifacts/screenshots/."""

from __future__ import annotations

from decimal import Decimal

import pytest

from balances.models import Balance, LedgerEntry
from balances.services import balance_open
from customers.services import customer_create
from tests.browser import SCREENSHOTS, log_in, needs_chromium, trade_one_option
from tests.conftest import new_id

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def user(db):
    username, password = new_id("web"), "pw-web-2026!"
    customer = customer_create(customer_id=new_id("web"), email="web@example.com", country_code="DE",
                               username=username, password=password)
    balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_USD", currency="USD",
                 amount=Decimal("1000.00"))
    return customer, username, password


def test_log_in_open_the_trading_room_and_trade_an_option(page, live_server, user):
    customer, username, password = user
    log_in(page, live_server.url, username, password)
    page.frame_locator("iframe.room").locator("#balance-amount").wait_for()
    page.screenshot(path=SCREENSHOTS / "traderoom-balance.png")
    assert trade_one_option(page) == ["1000.00", "990.00", "1008.50"]
    page.screenshot(path=SCREENSHOTS / "traderoom-after-trade.png")

    balance = Balance.objects.get(balance_id=f"{customer.customer_id}_USD")
    assert balance.amount == Decimal("1008.50")
    assert list(LedgerEntry.objects.filter(balance=balance).order_by("id").values_list("kind", flat=True)) == [
        "deposit", "debit", "credit"]


def test_a_restricted_country_sees_its_message(page, live_server, user, simulator):
    simulator.state(restricted_countries=["DE"])
    _, username, password = user
    log_in(page, live_server.url, username, password)
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Not available in your country"
    assert "Sorry. Your current country is not allowed access" in page.locator("main").inner_text()
    assert page.locator("iframe").count() == 0
    page.screenshot(path=SCREENSHOTS / "traderoom-country-restricted.png")


def test_a_blocked_account_sees_its_message(page, live_server, user, simulator):
    customer, username, password = user
    log_in(page, live_server.url, username, password)  # creates the customer at the gateway
    simulator.state(blocked=[customer.customer_id])
    page.reload()
    assert "Sorry. Your account is blocked" in page.locator("main").inner_text()
    page.screenshot(path=SCREENSHOTS / "traderoom-blocked.png")


def test_the_login_page_fits_a_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_by_label("Username").is_visible()
    page.screenshot(path=SCREENSHOTS / "login-phone.png")
    context.close()
