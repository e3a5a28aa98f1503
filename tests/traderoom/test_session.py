"""GET /traderoom/ against the gateway simulator over real HTTP, row by row of the README's table
(the sequence diagrams of the contract's README; contract/gateway-api.yaml's statuses)."""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def names(calls):
    return [call["name"] for call in calls]


def assert_unavailable(response, caplog, *causes: str) -> None:
    """The README's last row: 503 "Trading is temporarily unavailable" with Retry-After, no
    traceback, and the cause in the log (every one of `causes` in one logged line)."""
    text = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Trading is temporarily unavailable" in text and "Traceback" not in text
    logged = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert any(all(cause in line for cause in causes) for line in logged), logged


def iframe_src(response) -> str:
    text = response.content.decode()
    start = text.index('<iframe class="room" src="') + len('<iframe class="room" src="')
    return text[start:text.index('"', start)]


def test_first_visit_creates_the_customer_then_shows_the_room(browser_client, simulator, trader):
    # contract: session 404 -> POST /customers 201 -> session 201 {"url"} -> 200 page with the iframe
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert iframe_src(response).startswith(f"{simulator.url}/traderoom/")
    assert names(simulator.calls()) == ["session", "customers", "session"]
    created = simulator.calls()[1]["body"]
    assert created == {"customer_id": trader.customer_id, "country_code": "DE", "ip": "127.0.0.1",
                       "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}


def test_a_known_customer_takes_one_round_trip(browser_client, simulator):
    browser_client.get("/traderoom/")
    before = len(simulator.calls())
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert names(simulator.calls()[before:]) == ["session"]


def test_the_session_body_carries_what_the_contract_requires(browser_client, simulator, trader, settings):
    settings.B2B_COUNTRY_HEADER = "CF-IPCountry"
    settings.B2B_TRUSTED_PROXIES = ["10.9.0.1"]
    browser_client.get("/traderoom/", HTTP_CF_IPCOUNTRY="fr", REMOTE_ADDR="10.9.0.1",
                       HTTP_X_FORWARDED_FOR="198.51.100.23", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9",
                       HTTP_HOST="trade.example.com:8443")
    session = simulator.calls()[-1]["body"]
    assert session == {"balance_id": f"{trader.customer_id}_USD", "balance_currency_code": "USD",
                       "balance_type": "real", "country_code": "FR", "ip": "198.51.100.23", "locale": "de_DE",
                       "site_domain": "trade.example.com"}


def test_defaults_profile_country_english_locale_and_configured_site_domain(browser_client, simulator, settings):
    settings.B2B_COUNTRY_HEADER = "CF-IPCountry"
    settings.B2B_SITE_DOMAIN = "trade.brand.example"
    browser_client.get("/traderoom/", HTTP_CF_IPCOUNTRY="XX1")  # not a country code: the profile's is used
    session = simulator.calls()[-1]["body"]
    sent = (session["country_code"], session["locale"], session["site_domain"])
    assert sent == ("DE", "en_US", "trade.brand.example")


def test_a_chosen_balance_is_used_and_another_customers_balance_is_404(browser_client, simulator, trader, make_balance):
    response = browser_client.get(f"/traderoom/?balance_id={trader.customer_id}_EUR")
    assert response.status_code == 200
    session = simulator.calls()[-1]["body"]
    assert (session["balance_id"], session["balance_currency_code"], session["balance_type"]) == (
        f"{trader.customer_id}_EUR", "EUR", "demo")
    other = make_balance()
    assert browser_client.get(f"/traderoom/?balance_id={other.balance_id}").status_code == 404
    assert browser_client.get("/traderoom/?balance_id=%00").status_code == 404


def test_our_outbound_token_is_es256_with_our_issuer_and_a_short_life(browser_client, simulator, key_dir, settings):
    browser_client.get("/traderoom/")
    token = simulator.calls()[0]["authorization"].removeprefix("Bearer ")
    key = load_pem_public_key((key_dir / "b2b-public.pem").read_bytes())
    claims = jwt.decode(token, key, algorithms=["ES256"], audience=settings.B2B_ENVIRONMENT)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert claims["iss"] == "broker-test"
    assert 0 < claims["exp"] - claims["iat"] <= 600
    assert abs(claims["iat"] - time.time()) < 30


def test_a_customer_created_meanwhile_409_still_gets_a_session(browser_client, simulator):
    browser_client.get("/traderoom/")  # the customer now exists at the gateway
    simulator.fault("session", 404)  # yet the next session call says unknown: a twin's race
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert names(simulator.calls())[-3:] == ["session", "customers", "session"]


def test_country_restriction_shows_the_country_page(browser_client, simulator):
    simulator.state(restricted_countries=["DE"])
    browser_client.get("/traderoom/")
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert "Sorry. Your current country is not allowed access" in response.content.decode()
    assert "<iframe" not in response.content.decode()


def test_currency_restriction_names_the_currency(browser_client, simulator):
    browser_client.get("/traderoom/")
    simulator.state(restricted_currencies=["USD"])
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert "Trading in USD is not available" in response.content.decode()


def test_a_blocked_customer_sees_the_blocked_page(browser_client, simulator, trader):
    browser_client.get("/traderoom/")
    simulator.state(blocked=[trader.customer_id])
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert "Sorry. Your account is blocked" in response.content.decode()


def test_gateway_429_is_a_429_page_with_retry_after(browser_client, simulator):
    simulator.fault("session", 429, headers={"Retry-After": "7"})
    response = browser_client.get("/traderoom/")
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert "Too many attempts, try again shortly." in response.content.decode()


@pytest.mark.parametrize("status", [400, 401, 403, 409, 422, 500, 502, 503])
def test_other_gateway_answers_are_503_and_logged_with_status_and_body(browser_client, simulator, status, caplog):
    simulator.fault("session", status, body={"error": f"upstream-{status}"})
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, f"answered {status}", f"upstream-{status}")


def test_a_failed_customer_creation_is_503(browser_client, simulator, caplog):
    simulator.fault("customers", 500, body={"error": "creation-broke"})
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "POST /v1/b2b-gateway/customers answered 500", "creation-broke")


def test_a_slow_gateway_times_out_into_503(browser_client, simulator, settings, caplog):
    settings.QUADCODE_TIMEOUT = 0.5
    simulator.fault("session", None, delay=2.0)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "/session failed", "ReadTimeout")
    assert time.monotonic() - started < 1.9


def test_a_refused_connection_is_503(browser_client, settings, caplog):
    settings.QUADCODE_API_URL = "http://127.0.0.1:9"
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "/session failed", "ConnectError")


def test_a_token_the_gateway_cannot_verify_is_503(browser_client, settings, key_dir, caplog):
    settings.B2B_PRIVATE_KEY_FILE = str(key_dir / "stranger-private.pem")
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "/session answered 401")


def test_a_session_url_we_may_not_frame_is_503(browser_client, simulator, settings, caplog):
    browser_client.get("/traderoom/")
    simulator.fault("session", 201, body={"url": "javascript:alert(1)"})
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "/session answered 201", "javascript:alert(1)")


def test_the_page_may_frame_only_the_gateway_origin_and_nobody_may_frame_it(browser_client, simulator):
    response = browser_client.get("/traderoom/")
    csp = response["Content-Security-Policy"]
    assert f"frame-src {simulator.url}" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/traderoom/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_login_without_a_trading_account_gets_a_clear_403(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff-only", password="pw-staff-2026"))
    response = client.get("/traderoom/")
    assert response.status_code == 403
    assert "no trading account" in response.content.decode()


def test_the_page_is_rate_limited_per_user(browser_client, settings):
    settings.B2B_TRADEROOM_RATE_PER_USER = "2/d"  # day windows: a window boundary mid-test would reset the count
    assert [browser_client.get("/traderoom/").status_code for _ in range(3)] == [200, 200, 429]


def test_the_page_is_rate_limited_per_client_ip(browser_client, settings):
    settings.B2B_TRADEROOM_RATE_PER_IP = "1/d"
    first = browser_client.get("/traderoom/", REMOTE_ADDR="203.0.113.4")
    second = browser_client.get("/traderoom/", REMOTE_ADDR="203.0.113.4")
    other_ip = browser_client.get("/traderoom/", REMOTE_ADDR="203.0.113.5")
    assert (first.status_code, second.status_code, other_ip.status_code) == (200, 429, 200)
    assert second["Retry-After"]


def test_pages_follow_the_users_language(browser_client, simulator, trader):
    browser_client.get("/traderoom/")
    simulator.state(blocked=[trader.customer_id])
    response = browser_client.get("/traderoom/", HTTP_ACCEPT_LANGUAGE="de")
    text = response.content.decode()
    assert '<html lang="de-de">' in text
    assert "Leider ist Ihr Konto gesperrt." in text
    assert simulator.calls()[-1]["body"]["locale"] == "de_DE"


def test_a_missing_signing_key_is_a_503_not_a_crash(browser_client, settings, caplog):
    settings.B2B_PRIVATE_KEY_FILE = "/nonexistent/private.pem"
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        response = browser_client.get("/traderoom/")
    assert_unavailable(response, caplog, "cannot sign with B2B_PRIVATE_KEY_FILE")


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_on_the_page_is_a_503(trader, client, caplog):
    from tests.conftest import database_down

    client.force_login(trader.user)
    with database_down(), caplog.at_level(logging.ERROR, logger="b2b_server.middleware"):
        response = client.get("/traderoom/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Temporarily unavailable" in response.content.decode()
    assert any(record.getMessage().startswith("database unavailable on /traderoom/:") for record in caplog.records)


def test_upstream_bodies_are_logged_without_email_addresses(browser_client, simulator, caplog):
    simulator.fault("session", 500, body={"error": "boom", "detail": "ann.lee+x@example.com is unknown"})
    with caplog.at_level(logging.ERROR, logger="quadcode.gateway"):
        browser_client.get("/traderoom/")
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "***@example.com" in logged and "ann.lee" not in logged


def test_password_guessing_is_rate_limited_per_username(client, trader, settings):
    settings.B2B_LOGIN_RATE = "3/d"
    username = trader.user.username
    statuses = [client.post("/accounts/login/", {"username": username, "password": f"guess-{i}"},
                            REMOTE_ADDR=f"203.0.113.{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]  # 200: the form again, with its error
    # Even the right password waits now: the limit is on attempts, not on failures.
    response = client.post("/accounts/login/", {"username": username, "password": "pw-ann-2026"},
                           REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429 and response["Retry-After"]


def test_a_successful_login_goes_to_the_trading_room(client, trader):
    response = client.post("/accounts/login/", {"username": trader.user.username, "password": "pw-ann-2026"})
    assert response.status_code == 302 and response["Location"] == "/traderoom/"
