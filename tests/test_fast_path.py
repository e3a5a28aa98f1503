"""The balance API's fast way through the handler (b2b_server.handler) answers exactly as Django's
full way does: same status, headers and body for every kind of request, good and bad; paths it
does not match take the full way; and it really skips the root resolver and the pages' middleware."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls.resolvers import URLResolver

from b2b_server import middleware
from b2b_server.handler import FastPathWSGIHandler, api_middleware
from tests.conftest import API_IP, body, fast_path_client, ids, ledger_snapshot

pytestmark = pytest.mark.django_db


def _answer(response) -> tuple:
    content = response.content
    if response.get("Content-Type") == "application/json" and content:
        data = json.loads(content)
        data.pop("operation_id", None)  # each way makes its own operation
        content = data
    return response.status_code, sorted(response.items()), content


def _both(method: str, path: str, mint, *, data=None, content_type="application/json", token=True, **extra):
    if token:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {mint()}")
    extra.setdefault("REMOTE_ADDR", API_IP)
    answers = []
    for client in (Client(), fast_path_client()):
        payload = data(client) if callable(data) else data
        if payload is None:
            response = client.generic(method, path, **extra)
        else:
            response = client.generic(method, path, payload, content_type=content_type, **extra)
        answers.append(_answer(response))
    return answers


@pytest.fixture
def path(make_balance):
    customer_id, balance_id = ids(make_balance("1000.00"))
    return f"/v1/customers/{customer_id}/balances/{balance_id}"


CASES = {
    "get": ("GET", "", None, {}),
    "head": ("HEAD", "", None, {}),
    "no token": ("GET", "", None, {"token": False}),
    "forbidden IP": ("GET", "", None, {"REMOTE_ADDR": "203.0.113.9"}),
    "foreign Host header": ("GET", "", None, {"HTTP_HOST": "evil.example"}),
    "method not allowed": ("PUT", "", "{}", {}),
    "options": ("OPTIONS", "", None, {}),
    "unknown balance": ("GET", "-nope", None, {}),
    "debit not JSON": ("POST", "/debit", "{", {}),
    "debit duplicate key": ("POST", "/debit", '{"amount": "1", "amount": "2"}', {}),
    "debit wrong media type": ("POST", "/debit", "amount=1", {"content_type": "application/x-www-form-urlencoded"}),
    "debit without amount": ("POST", "/debit", json.dumps({"request_id": "r", "currency_code": "USD",
                                                           "comment": ""}), {}),
    "debit uncovered": ("POST", "/debit", lambda c: json.dumps(body("5000.00")), {}),
    "credit in another currency": ("POST", "/credit", lambda c: json.dumps(body("1.00", currency="EUR")), {}),
    "trailing slash (the full way)": ("GET", "/", None, {}),
    "get on the debit path": ("GET", "/debit", None, {}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_fast_way_answers_as_the_full_way(case, path, mint):
    method, suffix, data, extra = CASES[case]
    balances, _, entries = ledger_snapshot()
    full, fast = _both(method, path + suffix, mint, data=data, **extra)
    assert fast == full
    assert full[0] < 500
    after_balances, _, after_entries = ledger_snapshot()
    assert (after_balances, after_entries) == (balances, entries)  # none of these moves money (a decline is remembered)


def test_an_applied_debit_and_its_replay_answer_alike_on_both_ways(make_balance, mint):
    for client in (Client(), fast_path_client()):
        customer_id, balance_id = ids(make_balance("100.00"))
        url = f"/v1/customers/{customer_id}/balances/{balance_id}/debit"
        operation = json.dumps(body("30.00", request_id=f"same-{id(client)}"))
        auth = {"HTTP_AUTHORIZATION": f"Bearer {mint()}", "REMOTE_ADDR": API_IP}
        first = client.generic("POST", url, operation, content_type="application/json", **auth)
        again = client.generic("POST", url, operation, content_type="application/json", **auth)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json() and first.json()["balance_current_amount"] == "70.00"
        assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
        assert first["X-Frame-Options"] == "DENY" and first["X-Content-Type-Options"] == "nosniff"


def test_the_https_redirect_applies_on_the_fast_way(path, mint, settings):
    settings.SECURE_SSL_REDIRECT = True
    full, fast = _both("GET", path, mint)
    assert full[0] == 301 and fast == full


def test_the_fast_way_skips_the_root_resolver_and_the_pages_middleware(path, mint, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("not on the fast way")

    monkeypatch.setattr(URLResolver, "resolve", refuse)
    monkeypatch.setattr(middleware.PagesOnlyMixin, "__call__", refuse)
    response = fast_path_client(REMOTE_ADDR=API_IP).get(path, HTTP_AUTHORIZATION=f"Bearer {mint()}")
    assert response.status_code == 200 and response.json()["amount"] == "1000.00"


def test_only_the_api_middlewares_run_on_the_fast_way():
    assert api_middleware() == ["b2b_server.middleware.RequestLogMiddleware",
                                "django.middleware.security.SecurityMiddleware",
                                "django.middleware.common.CommonMiddleware",
                                "django.middleware.clickjacking.XFrameOptionsMiddleware"]


def test_the_server_handler_matches_only_the_balance_api_paths():
    handler = FastPathWSGIHandler()
    assert handler.fast_match("/v1/customers/c1/balances/b1").url_name == "balance-detail"
    assert handler.fast_match("/v1/customers/c1/balances/b1/debit").kwargs == {"customer_id": "c1",
                                                                              "balance_id": "b1"}
    for other in ("/v1/customers/c1/balances/b1/", "/v1/customers//balances/b1", "/healthz", "/account/",
                  "/backoffice/v1/customers", "v1/customers/c1/balances/b1"):
        assert handler.fast_match(other) is None, other
