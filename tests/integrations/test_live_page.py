"""The customer's /account/ page in Debian's Chromium, served as production serves the feed
(bin/serve-feed: granian's ASGI, pages and /ws/events): when Quadcode debits the balance, the
figures on the open page change by themselves."""

from __future__ import annotations

import subprocess

import pytest

from balances.models import Balance
from tests.browser import SCREENSHOTS, needs_chromium
from tests.conftest import body, ids
from tests.integrations.feed_server import ROOT, feed_served, server_env

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def site(key_dir, tmp_path):
    # The pages' CSS and the feed script, where bin/serve-feed serves /static from.
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--noinput", "-v0"],
                   cwd=ROOT, env=server_env(key_dir, 0), check=True, timeout=120)
    with feed_served(key_dir, tmp_path / "site.log") as (_ws, http_url):
        yield http_url


def test_the_balances_page_follows_a_debit_live(browser, site, trader, quadcode):
    usd = Balance.objects.get(balance_id=f"{trader.customer_id}_USD")
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{site}/accounts/login/?next=/account/")
        page.get_by_label("Username").fill(trader.user.username)
        page.get_by_label("Password").fill("pw-ann-2026")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{site}/account/")
        page.locator("#live-status[data-state=live]").wait_for()
        available = page.locator(f"#balance-{usd.balance_id} dd.available")
        before = available.inner_text()
        assert "1,000.00" in before or "1000.00" in before, before
        page.screenshot(path=SCREENSHOTS / "account-live-before.png", full_page=True)
        answer = quadcode.debit(*ids(usd), body("12.50"))
        assert answer.status_code == 201
        page.wait_for_function(
            "([selector, before]) => document.querySelector(selector).textContent !== before",
            arg=[f"#balance-{usd.balance_id} dd.available", before], timeout=10_000)
        after = available.inner_text()
        assert "987.50" in after, after
        assert "changed" in (available.get_attribute("class") or "")
        # The demo balance did not move, and says so.
        demo = page.locator(f"#balance-{trader.customer_id}_EUR dd.available")
        assert "changed" not in (demo.get_attribute("class") or "")
        page.screenshot(path=SCREENSHOTS / "account-live-after.png", full_page=True)
    finally:
        context.close()
