"""Debian's Chromium for Playwright (its own browser download is not available here): the
`browser` and `page` fixtures, and the steps several browser tests share."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
# Without the background-networking flags Chromium keeps dialing Google's hosts on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed (bin/test installs it)")


def launch(playwright):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Open the trading room as a visitor would: sent to the login form, then back."""
    page.goto(f"{base_url}/traderoom/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/traderoom/")


def trade_one_option(page) -> list[str]:
    """In the simulator's trading room: open a 10.00 option, then close it with a profit.
    Returns the balance shown before, after opening and after closing."""
    room = page.frame_locator("iframe.room")
    amount = room.locator("#balance-amount")
    seen = [amount.inner_text()]
    room.get_by_role("button", name="Open option (10.00)").click()
    room.get_by_text("Option opened: 10.00 USD debited.").wait_for()
    seen.append(amount.inner_text())
    room.get_by_role("button", name="Close option with profit").click()
    room.get_by_text("18.50 USD credited").wait_for()
    seen.append(amount.inner_text())
    return seen


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running; Django's ORM calls in these tests are
    # plain synchronous test code, so the async-safety guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
