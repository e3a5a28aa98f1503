"""The gateway simulator keeps the contract's promises that the trading-room tests rely on."""

import time

import httpx
import jwt

from b2b_server.keys import load_es256_private_key
from contract import openapi
from quadcode import gateway


def call(simulator, method, path, payload=None, token=None):
    headers = {"Authorization": f"Bearer {token or gateway.sign()}"}
    return httpx.request(method, f"{simulator.url}{path}", json=payload, headers=headers, timeout=5)


def test_it_refuses_tokens_it_cannot_verify(simulator, key_dir):
    now = int(time.time())
    forged = jwt.encode({"iss": "broker-test", "aud": "sandbox", "iat": now, "exp": now + 60},
                        load_es256_private_key(key_dir / "stranger-private.pem"), algorithm="ES256")
    assert call(simulator, "GET", "/v1/b2b-gateway/allowed-countries", token=forged).status_code == 401
    assert call(simulator, "GET", "/v1/b2b-gateway/allowed-countries").status_code == 200


def test_allowed_countries_leave_out_the_restricted_ones(simulator):
    simulator.state(restricted_countries=["DE"])
    countries = call(simulator, "GET", "/v1/b2b-gateway/allowed-countries").json()["countries"]
    codes = {country["short_code"] for country in countries}
    assert "DE" not in codes and "FR" in codes
    assert all(set(country) == {"name", "short_code", "iso_code"} for country in countries)


def test_customers_session_and_block(simulator):
    customer = {"customer_id": "sim-1", "country_code": "FR", "ip": "198.51.100.1", "email": "s@example.com"}
    session = {"balance_id": "sim-1_USD", "balance_currency_code": "USD", "country_code": "FR",
               "ip": "198.51.100.1", "locale": "en_US", "site_domain": "trade.example.com"}
    assert call(simulator, "POST", "/v1/b2b-gateway/customers/sim-1/session", session).status_code == 404
    assert call(simulator, "POST", "/v1/b2b-gateway/customers", {"customer_id": "sim-1"}).status_code == 422
    assert call(simulator, "POST", "/v1/b2b-gateway/customers", customer).status_code == 201
    assert call(simulator, "POST", "/v1/b2b-gateway/customers", customer).status_code == 409
    created = call(simulator, "POST", "/v1/b2b-gateway/customers/sim-1/session", session)
    assert created.status_code == 201 and created.json()["url"].startswith(f"{simulator.url}/traderoom/")
    assert call(simulator, "POST", "/v1/b2b-gateway/customers/sim-1/block").status_code == 200
    assert call(simulator, "POST", "/v1/b2b-gateway/customers/sim-1/session", session).status_code == 418
    assert call(simulator, "POST", "/v1/b2b-gateway/customers/nobody/block").status_code == 404


def test_a_payload_missing_what_the_contract_requires_is_a_422_naming_each_field(simulator):
    # contract/gateway-api.yaml: 422 "Fields are missing or malformed; each is named with a code."
    spec = openapi.load("margin-draft/gateway-api.yaml")
    for path, url in [("/v1/b2b-gateway/customers", "/v1/b2b-gateway/customers"),
                      ("/v1/b2b-gateway/customers/{customer_id}/session", "/v1/b2b-gateway/customers/sim-2/session")]:
        required = openapi.request_schema(spec, path, "post")["required"]
        assert len(required) >= 4
        response = call(simulator, "POST", url, {})
        assert response.status_code == 422
        assert response.json() == {name: {"code": "is_required", "message": f"{name} is required"}
                                   for name in required}
