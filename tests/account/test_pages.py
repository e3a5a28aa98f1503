"""The customer's wallet pages against PostgreSQL and the gateway simulator over HTTP: every rule
and message, each refusal changing nothing, and nothing of another customer ever shown."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_approve, adjustment_reject
from balances.models import Balance, LedgerEntry
from balances.services import balance_open, ledger_credit, ledger_debit
from customers.services import customer_block, customer_create
from tests.account.conftest import current_code
from tests.backoffice.conftest import everything, staff_member
from tests.conftest import new_id

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def usd(trader) -> Balance:
    return trader.balances.get(currency="USD")


@pytest.fixture
def approver(django_user_model):
    return Actor.staff(staff_member(django_user_model, "finance-1", "balances.approve_adjustment"))


def text(response) -> str:
    return response.content.decode()


def form_key(response) -> str:
    return re.search(r'name="key" value="([^"]+)"', text(response)).group(1)


def withdraw(client, balance, amount, code, key=None):
    key = key or form_key(client.get("/account/withdraw/"))
    return client.post("/account/withdraw/", {"balance_id": balance.balance_id, "amount": amount, "otp_token": code,
                                              "key": key})


def other_customer():
    customer = customer_create(customer_id=new_id("other"), email="bob@example.com", country_code="FR",
                               username=new_id("bob"), password="pw-bob-2026")
    balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_USD", currency="USD",
                 amount=Decimal("777.77"))
    return customer


# --- /account/ ---------------------------------------------------------------------------------

def test_the_overview_shows_each_balance_with_held_and_available_and_links(browser_client, trader, usd, device,
                                                                           simulator):
    withdraw(browser_client, usd, "250.00", current_code(device))
    page = text(browser_client.get("/account/"))
    card = page.split(f'id="balance-{usd.balance_id}"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'class="total">1000.00<', card) and re.search(r'class="held">250.00<', card)
    assert re.search(r'class="available">750.00<', card) and "USD" in card and "Real" in card
    assert f"/traderoom/?balance_id={usd.balance_id}" in card
    assert "Withdrawal requested: amount set aside" in card  # the hold, as the customer reads it
    assert f'/traderoom/?balance_id={trader.customer_id}_EUR' in page  # the demo balance too
    requests = page.split('id="requests"', 1)[1]
    assert "Withdrawal" in requests and "250.00 USD" in requests and "Pending" in requests


def test_the_overview_lists_the_last_20_entries(browser_client, usd):
    for i in range(25):
        ledger_credit(customer_id=usd.customer.customer_id, balance_id=usd.balance_id, request_id=f"c-{i}",
                      amount=Decimal("1.00"), currency="USD")
    card = text(browser_client.get("/account/")).split(f'id="balance-{usd.balance_id}"', 1)[1].split("</section>")[0]
    assert card.count('class="kind-') == 20 and "1025.00" in card


def test_nothing_of_another_customer_is_ever_shown(browser_client, trader):
    bob = other_customer()
    page = text(browser_client.get("/account/"))
    assert bob.customer_id not in page and "777.77" not in page
    for url in [f"/account/statement/?balance_id={bob.customer_id}_USD",
                f"/account/statement/?balance_id={bob.customer_id}_USD&format=csv",
                "/account/statement/?balance_id=nobody"]:
        response = browser_client.get(url)
        assert response.status_code == 404 and "777.77" not in text(response), url


def test_a_login_without_a_customer_account_is_told_so(client, db, django_user_model):
    client.force_login(django_user_model.objects.create_user("staffer", password="pw"))
    response = client.get("/account/")
    assert response.status_code == 403 and "no trading account" in text(response)


def test_the_pages_need_a_login(client, db):
    response = client.get("/account/withdraw/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- /account/statement/ -------------------------------------------------------------------

def test_the_statement_has_every_entry_of_the_period_with_opening_and_closing_balances(browser_client, usd):
    ids = {"customer_id": usd.customer.customer_id, "balance_id": usd.balance_id, "currency": "USD"}
    ledger_debit(request_id="d-1", amount=Decimal("10.00"), comment="option 4711 opened", **ids)
    ledger_credit(request_id="c-1", amount=Decimal("18.50"), comment="option 4711 closed", **ids)
    today = dt.date.today().isoformat()
    page = text(browser_client.get(f"/account/statement/?balance_id={usd.balance_id}&from={today}&to={today}"))
    assert re.search(r'id="opening">0.00<', page) and re.search(r'id="closing">1008.50<', page)
    assert page.index("Deposit") < page.index("Option opened") < page.index("Option closed")
    assert "-10.00" in page and "18.50" in page
    assert "4711" not in page and "d-1" not in page  # Quadcode's comments and ids are not for customers
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    earlier = text(browser_client.get(f"/account/statement/?balance_id={usd.balance_id}&from={yesterday}"
                                      f"&to={yesterday}"))
    assert re.search(r'id="opening">0.00<', earlier) and "No entries in this period" in earlier
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    later = text(browser_client.get(f"/account/statement/?balance_id={usd.balance_id}&from={tomorrow}&to={tomorrow}"))
    assert re.search(r'id="opening">1008.50<', later) and re.search(r'id="closing">1008.50<', later)


def test_the_statement_is_paginated(browser_client, usd):
    for i in range(60):
        ledger_credit(customer_id=usd.customer.customer_id, balance_id=usd.balance_id, request_id=f"p-{i}",
                      amount=Decimal("1.00"), currency="USD")
    first = text(browser_client.get(f"/account/statement/?balance_id={usd.balance_id}"))
    second = text(browser_client.get(f"/account/statement/?balance_id={usd.balance_id}&page=2"))
    assert first.count('class="kind-') == 50 and second.count('class="kind-') == 11
    assert "Page 1 of 2" in first and re.search(r'id="closing">1060.00<', second)


def test_the_statement_downloads_as_csv_in_the_currencys_precision_with_utc_times(browser_client, trader,
                                                                                 approver, device):
    yen = balance_open(customer_id=trader.customer_id, balance_id=f"{trader.customer_id}_JPY", currency="JPY",
                       amount=Decimal("15000"))
    ledger_debit(customer_id=trader.customer_id, balance_id=yen.balance_id, request_id="y-1", amount=Decimal("500"),
                 currency="JPY", comment="internal comment 99")
    pending = withdraw(browser_client, yen, "1000", current_code(device))
    assert pending.status_code == 200
    request = AdjustmentRequest.objects.get(balance=yen)
    adjustment_approve(request_id=request.pk, actor=approver)
    response = browser_client.get(f"/account/statement/?balance_id={yen.balance_id}&format=csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["time", "kind", "amount", "balance_after", "description"]
    assert [(r[1], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("deposit", "15000", "15000", "Deposit"), ("debit", "-500", "14500", "Option opened"),
        ("hold", "-1000", "13500", "Withdrawal requested: amount set aside"),
        ("release", "1000", "14500", "Set-aside amount released"),
        ("withdrawal", "-1000", "13500", "Withdrawal approved")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", row[0]) for row in rows[1:])
    assert "finance-1" not in body and "internal comment" not in body and "bo:" not in body and "y-1" not in body


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=yesterday", "from=2026-12-02&to=2026-12-01"])
def test_bad_dates_are_a_clear_400(browser_client, usd, query):
    response = browser_client.get(f"/account/statement/?balance_id={usd.balance_id}&{query}")
    assert response.status_code == 400 and "YYYY-MM-DD" in text(response)


# --- /account/security/ --------------------------------------------------------------------

def test_enrolment_shows_a_qr_code_and_uri_and_a_code_confirms_it(browser_client, trader):
    page = text(browser_client.get("/account/security/"))
    assert "no second factor yet" in page
    page = text(browser_client.post("/account/security/", {"action": "start"}))
    assert "data:image/svg+xml" in page and "otpauth://totp/" in page and 'name="otp_token"' in page
    pending = TOTPDevice.objects.get(user=trader.user)
    assert not pending.confirmed
    wrong = text(browser_client.post("/account/security/", {"action": "confirm", "otp_token": "000000"}))
    assert "The code is wrong" in wrong
    pending.refresh_from_db()
    pending.throttle_reset()
    page = text(browser_client.post("/account/security/", {"action": "confirm", "otp_token": current_code(pending)}))
    assert "Your second factor is active" in page
    assert TOTPDevice.objects.get(user=trader.user).confirmed
    event = AuditEvent.objects.get(action="mfa_enrolled")
    assert (event.actor, event.target) == (f"customer:{trader.customer_id}", f"customer:{trader.customer_id}")


def test_replacing_keeps_the_old_device_until_the_new_one_is_confirmed(browser_client, trader, device):
    browser_client.post("/account/security/", {"action": "start"})
    assert TOTPDevice.objects.filter(user=trader.user, confirmed=True).get() == device  # still in use
    new = TOTPDevice.objects.get(user=trader.user, confirmed=False)
    browser_client.post("/account/security/", {"action": "confirm", "otp_token": current_code(new)})
    assert list(TOTPDevice.objects.filter(user=trader.user)) == [new]


# --- /account/withdraw/ --------------------------------------------------------------------

def test_without_a_second_factor_the_page_says_to_enrol_first(browser_client, usd):
    page = text(browser_client.get("/account/withdraw/"))
    assert "first set up a second factor" in page and 'name="amount"' not in page


def test_a_withdrawal_is_a_pending_request_holding_its_funds_and_staff_approve_it(browser_client, trader, usd,
                                                                                  device, approver, simulator):
    response = withdraw(browser_client, usd, "300.00", current_code(device))
    assert response.status_code == 200
    request = AdjustmentRequest.objects.get()
    assert f'id="request-reference">{request.pk}<' in text(response)
    assert (request.state, request.kind, request.requested_by, request.four_eyes) == (
        "pending", "withdrawal", f"customer:{trader.customer_id}", True)
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("700.00")  # held at once
    adjustment_approve(request_id=request.pk, actor=approver)
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("700.00")
    assert "Posted" in text(browser_client.get("/account/"))
    assert [m.subject for m in mail.outbox] == ["Your withdrawal request was received", "Your withdrawal was approved"]
    assert mail.outbox[0].to == ["ann@example.com"] and f"reference {request.pk}" in mail.outbox[0].body


def test_a_rejected_withdrawal_is_mailed_with_its_reason(browser_client, usd, device, approver):
    withdraw(browser_client, usd, "10.00", current_code(device))
    adjustment_reject(request_id=AdjustmentRequest.objects.get().pk, actor=approver, reason="account not verified")
    assert mail.outbox[-1].subject == "Your withdrawal was rejected"
    assert "account not verified" in mail.outbox[-1].body
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("1000.00")


@pytest.mark.parametrize("amount,message", [
    ("ten", "decimal string"), ("10.001", "more decimals than USD allows"), ("0", "greater than zero"),
    ("1000.01", "Insufficient funds."),
])
def test_each_check_has_a_clear_message_and_changes_nothing(browser_client, usd, device, amount, message):
    snapshot = everything()
    response = withdraw(browser_client, usd, amount, current_code(device))
    assert response.status_code == 200 and message in text(response)
    assert everything() == snapshot
    device.refresh_from_db()
    assert device.last_t == -1  # the code was not spent on a refused request


def test_the_gateways_available_withdrawal_amount_is_the_limit(browser_client, usd, device, simulator):
    simulator.state(withdrawable={usd.balance_id: "120.00"})
    snapshot = everything()
    response = withdraw(browser_client, usd, "120.01", current_code(device))
    assert "at most 120.00 USD" in text(response)
    assert everything() == snapshot


def test_a_gateway_that_cannot_tell_the_available_amount_refuses_the_withdrawal(browser_client, usd, device,
                                                                                simulator):
    simulator.state(withdrawable={usd.balance_id: "500.00"})
    simulator.fault("available_withdrawal", 502)
    snapshot = everything()
    response = withdraw(browser_client, usd, "10.00", current_code(device))
    assert "Cannot confirm the available amount now; try again." in text(response)
    assert everything() == snapshot


def test_a_wrong_or_reused_code_is_refused(browser_client, usd, device):
    snapshot = everything()
    assert "The code is wrong or was used already" in text(withdraw(browser_client, usd, "10.00", "123456"))
    assert everything() == snapshot
    device.refresh_from_db()
    device.throttle_reset()
    code = current_code(device)
    assert withdraw(browser_client, usd, "10.00", code).status_code == 200
    snapshot = everything()
    again = withdraw(browser_client, usd, "10.00", code)  # a new form (new key), the same code
    assert "The code is wrong or was used already" in text(again)
    assert everything() == snapshot


def test_a_double_submit_is_one_request(browser_client, usd, device):
    key, code = form_key(browser_client.get("/account/withdraw/")), current_code(device)
    first = withdraw(browser_client, usd, "40.00", code, key=key)
    second = withdraw(browser_client, usd, "40.00", code, key=key)  # the same form again: no new code needed
    assert first.status_code == second.status_code == 200
    request = AdjustmentRequest.objects.get()
    assert f'id="request-reference">{request.pk}<' in text(second)
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("960.00")


def test_a_blocked_customer_sees_the_account_but_cannot_withdraw_or_open_a_session(browser_client, trader, usd,
                                                                                   device):
    customer_block(customer_id=trader.customer_id, actor=Actor.system())
    assert "Your account is blocked" in text(browser_client.get("/account/"))
    assert browser_client.get(f"/account/statement/?balance_id={usd.balance_id}").status_code == 200
    snapshot = everything()
    for response in [withdraw(browser_client, usd, "10.00", current_code(device), key="k-blocked"),
                     browser_client.get("/account/api-session/")]:
        assert response.status_code == 200 and "Sorry. Your account is blocked" in text(response)
    assert everything() == snapshot


def test_forms_are_rate_limited_per_user(browser_client, usd, device, settings):
    settings.B2B_ACCOUNT_RATE_PER_USER = "3/d"
    statuses = [withdraw(browser_client, usd, "1.001", "000000").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_forms_are_csrf_protected(trader, usd):
    client = Client(enforce_csrf_checks=True)
    client.force_login(trader.user)
    response = client.post("/account/withdraw/", {"balance_id": usd.balance_id, "amount": "1", "otp_token": "1",
                                                  "key": "k"})
    assert response.status_code == 403
    assert not AdjustmentRequest.objects.exists()


# --- /account/deposit/ ---------------------------------------------------------------------

def test_the_deposit_page_gives_the_instructions_with_the_customers_own_reference(browser_client, trader, settings):
    settings.B2B_DEPOSIT_INSTRUCTIONS = "Pay to IBAN DE00 1234 quoting {{ reference }} (customer {{ customer_id }})."
    page = text(browser_client.get("/account/deposit/"))
    reference = re.search(r'id="reference">([^<]+)<', page).group(1)
    assert reference.startswith(f"W-{trader.customer_id}-")
    assert f"Pay to IBAN DE00 1234 quoting {reference} (customer {trader.customer_id})." in page


def test_an_announced_transfer_is_a_pending_deposit_that_staff_credit(browser_client, trader, usd, approver):
    key = form_key(browser_client.get("/account/deposit/"))
    data = {"balance_id": usd.balance_id, "amount": "25.00", "transfer_date": dt.date.today().isoformat(),
            "their_reference": "SEPA 123", "key": key}
    assert browser_client.post("/account/deposit/", data).status_code == 200
    assert browser_client.post("/account/deposit/", data).status_code == 200  # a double submit
    request = AdjustmentRequest.objects.get()
    assert (request.state, request.kind, request.four_eyes) == ("pending", "deposit", True)  # small, but announced
    assert "SEPA 123" in request.reason
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("1000.00")  # nothing until the money is seen
    adjustment_approve(request_id=request.pk, actor=approver)
    assert Balance.objects.get(pk=usd.pk).amount == Decimal("1025.00")
    assert mail.outbox[-1].subject == "A deposit was credited to your account"
    assert LedgerEntry.objects.filter(balance=usd).latest("id").kind == "deposit"


@pytest.mark.parametrize("change,message", [({"amount": "-5"}, "decimal string"),
                                            ({"transfer_date": "2999-01-01"}, "in the future"),
                                            ({"their_reference": "x" * 65}, "at most 64")])
def test_a_bad_announcement_is_refused_and_changes_nothing(browser_client, usd, change, message):
    data = {"balance_id": usd.balance_id, "amount": "25.00", "transfer_date": dt.date.today().isoformat(),
            "their_reference": "", "key": "k-1", **change}
    snapshot = everything()
    response = browser_client.post("/account/deposit/", data)
    assert response.status_code == 200 and message in text(response)
    assert everything() == snapshot


# --- /account/api-session/ -----------------------------------------------------------------

def api_form(client, **extra):
    key = form_key(client.get("/account/api-session/"))
    return {"bot_name": "GridBot", "bot_version": "2.1", "strategy": "mean reversion", "platform_id": "9",
            "key": key, **extra}


def test_an_api_session_shows_its_ssid_once(browser_client, trader, simulator):
    browser_client.get("/traderoom/")  # the customer exists at the gateway
    data = api_form(browser_client)
    page = text(browser_client.post("/account/api-session/", data))
    ssid = re.search(r'id="ssid"[^>]*>([^<]+)<', page).group(1)
    [call] = [c for c in simulator.calls() if c["name"] == "api_session"]
    assert call["path"] == f"/v1/b2b-gateway/customers/{trader.customer_id}/sessions"
    assert call["body"] == {"country_code": "DE", "ip": "127.0.0.1", "user_agent": "GridBot/2.1 (mean reversion)",
                            "platform_id": 9}
    again = text(browser_client.post("/account/api-session/", data))  # a double submit
    assert ssid not in again and "submitted already" in again
    assert len([c for c in simulator.calls() if c["name"] == "api_session"]) == 1


def test_an_unknown_customer_is_created_at_the_gateway_first(browser_client, trader, simulator):
    page = text(browser_client.post("/account/api-session/", api_form(browser_client)))
    assert 'id="ssid"' in page
    assert [c["name"] for c in simulator.calls()] == ["api_session", "customers", "api_session"]


@pytest.mark.parametrize("status,body,expected_status,message", [
    (451, {"error": "customer_country_restriction"}, 200, "Your current country is not allowed access"),
    (429, {}, 429, "Too many attempts, try again shortly."),
    (500, {}, 503, "Trading is temporarily unavailable"),
    (201, {"ssid": ""}, 503, "Trading is temporarily unavailable"),
])
def test_every_gateway_answer_maps_to_a_clear_page(browser_client, trader, simulator, status, body, expected_status,
                                                   message):
    browser_client.get("/traderoom/")
    data = api_form(browser_client)
    simulator.fault("api_session", status, body=body, headers={"Retry-After": "7"} if status == 429 else {})
    response = browser_client.post("/account/api-session/", data)
    assert response.status_code == expected_status and message in text(response)
    assert 'id="ssid"' not in text(response)


def test_the_pages_are_in_german_too(browser_client):
    page = text(browser_client.get("/account/", HTTP_ACCEPT_LANGUAGE="de"))
    assert "Ihre Guthaben" in page and "Verfügbar" in page


def test_the_staff_queue_shows_the_customers_request(browser_client, usd, device, django_user_model):
    withdraw(browser_client, usd, "10.00", current_code(device))
    boss = get_user_model().objects.create_superuser("boss", "b@example.com", "pw-boss-2026")
    staff = Client()
    staff.force_login(boss)
    queue = text(staff.get("/admin/backoffice/adjustmentrequest/", HTTP_HOST="localhost"))
    assert f"customer:{usd.customer.customer_id}" in queue and "Approve" in queue
