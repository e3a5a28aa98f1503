"""The staff's half in Debian's Chromium: staff log in with a password and the code of their
authenticator app; a double click on the adjustment form posts once; a withdrawal goes from
request to approval by a second staff member. Screenshots land in artifacts/screenshots/."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.models import AdjustmentRequest
from balances.models import Balance, LedgerEntry
from tests.backoffice.conftest import staff_member
from tests.browser import SCREENSHOTS, needs_chromium

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def mfa(settings):
    settings.B2B_STAFF_MFA = True


def staff_with_device(django_user_model, username, *permissions):
    user = staff_member(django_user_model, username, *permissions, "balances.view_balance",
                        "backoffice.view_adjustmentrequest")
    return user, TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def admin_log_in(page, base_url, user, device) -> None:
    page.goto(f"{base_url}/admin/")
    assert "/admin/login/" in page.url
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(f"pw-{user.username}-2026")
    page.get_by_label("Code from your authenticator app").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/admin/")


def test_a_double_click_on_the_adjustment_form_posts_once(page, live_server, make_balance, mfa,
                                                          django_user_model):
    balance = make_balance("100.00")
    clerk, device = staff_with_device(django_user_model, "clerk", "balances.adjust_balance")
    page.goto(f"{live_server.url}/admin/login/")
    page.screenshot(path=SCREENSHOTS / "admin-login-second-factor.png")
    admin_log_in(page, live_server.url, clerk, device)
    page.goto(f"{live_server.url}/admin/balances/balance/{balance.pk}/adjust/")
    page.get_by_label("Kind").select_option("deposit")
    page.get_by_label("Amount").fill("25.00")
    page.get_by_label("Reason").fill("wire 4711 from the customer")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    # Two clicks in one go, the second before the first answer can arrive.
    page.evaluate("""() => { const button = document.querySelector('input[type=submit]');
                             button.click(); setTimeout(() => button.click(), 5); }""")
    # The second submission aborts the first navigation (the browser shows the second answer only).
    page.locator(".messagelist").wait_for()
    assert page.url == f"{live_server.url}/admin/balances/balance/{balance.pk}/change/"
    page.screenshot(path=SCREENSHOTS / "admin-adjustment-posted.png", full_page=True)
    assert len([url for url in posts if url.endswith("/adjust/")]) >= 2  # the browser did send it twice
    assert LedgerEntry.objects.filter(balance=balance, kind="deposit").count() == 2  # the opening one and this
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("125.00")
    assert AdjustmentRequest.objects.count() == 1


def test_a_withdrawal_from_request_to_approval_by_a_second_staff_member(browser, live_server, make_balance, mfa,
                                                                          django_user_model):
    balance = make_balance("500.00")
    clerk, clerk_device = staff_with_device(django_user_model, "clerk", "balances.adjust_balance")
    boss, boss_device = staff_with_device(django_user_model, "boss", "balances.approve_adjustment")
    requester, approver = (browser.new_context(viewport={"width": 1400, "height": 800}) for _ in range(2))
    try:
        page = requester.new_page()
        admin_log_in(page, live_server.url, clerk, clerk_device)
        page.goto(f"{live_server.url}/admin/balances/balance/{balance.pk}/adjust/")
        page.get_by_label("Kind").select_option("withdrawal")
        page.get_by_label("Amount").fill("120.00")
        page.get_by_label("Reason").fill("payout to IBAN DE89 3704 0044 0532 0130 00")
        page.get_by_role("button", name="Submit the request").click()
        page.get_by_text("waits for a second staff member's approval").wait_for()
        assert "380.00" in page.content()  # held at once
        page.screenshot(path=SCREENSHOTS / "admin-withdrawal-requested.png", full_page=True)
        page.goto(f"{live_server.url}/admin/backoffice/adjustmentrequest/")
        page.get_by_text("your request: someone else decides").wait_for()
        page.screenshot(path=SCREENSHOTS / "admin-queue-requester.png", full_page=True)

        page = approver.new_page()
        admin_log_in(page, live_server.url, boss, boss_device)
        page.goto(f"{live_server.url}/admin/backoffice/adjustmentrequest/")
        page.screenshot(path=SCREENSHOTS / "admin-queue-approver.png", full_page=True)
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("posted as operation").wait_for()
        page.screenshot(path=SCREENSHOTS / "admin-withdrawal-approved.png", full_page=True)
    finally:
        requester.close()
        approver.close()
    request = AdjustmentRequest.objects.get()
    assert (request.state, request.requested_by, request.decided_by) == ("posted", "clerk", "boss")
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("380.00")
    assert get_user_model().objects.count() == 2
