"""The one way to Quadcode's B2B gateway (../shared/contract/quadcode-external-balance-openapi.yaml).

It owns the base URL, our ES256 signature, the timeouts, connection reuse and the meaning of
every upstream status. Callers get a small outcome, never an HTTP response.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
from django.conf import settings

from b2b_server import metrics
from b2b_server.keys import load_es256_private_key

log = logging.getLogger(__name__)

_BODY_LOG_LIMIT = 500


class Outcome(enum.Enum):
    OK = "ok"  # 200/201
    CREATED = "created"
    NOT_FOUND = "not_found"  # the customer is unknown to the gateway
    EXISTS = "exists"  # 409 on customer creation
    COUNTRY_RESTRICTED = "customer_country_restriction"
    CURRENCY_RESTRICTED = "customer_currency_restriction"
    BLOCKED = "blocked"  # 418 on session
    RATE_LIMITED = "rate_limited"  # 429
    REJECTED = "rejected"  # 400/422 on customer creation: the payload itself is refused
    UNAVAILABLE = "unavailable"  # everything else: logged with status and body


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    url: str | None = None
    retry_after: int | None = None
    data: dict | None = None


@lru_cache(maxsize=4)
def _private_key(path: str):
    return load_es256_private_key(Path(path))


def sign() -> str:
    """A fresh token for one call: ES256, iss = B2B_JWT_ISSUER, aud = B2B_ENVIRONMENT, 5 minutes."""
    now = int(time.time())
    claims = {"iss": settings.B2B_JWT_ISSUER, "aud": settings.B2B_ENVIRONMENT, "iat": now,
              "exp": now + settings.B2B_TOKEN_LIFETIME}
    return jwt.encode(claims, _private_key(settings.B2B_PRIVATE_KEY_FILE), algorithm="ES256")


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    """One pooled client per process (and per configuration, so tests may point elsewhere)."""
    key = (settings.QUADCODE_API_URL, settings.QUADCODE_CONNECT_TIMEOUT, settings.QUADCODE_TIMEOUT)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                timeout = httpx.Timeout(settings.QUADCODE_TIMEOUT, connect=settings.QUADCODE_CONNECT_TIMEOUT)
                client = httpx.Client(base_url=settings.QUADCODE_API_URL, timeout=timeout,
                                      limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
                                      headers={"User-Agent": "b2b-balance-server"})
                _clients[key] = client
    return client


def _call(name: str, method: str, path: str, payload: dict | None = None) -> tuple[int, dict, httpx.Headers] | None:
    """(status, JSON body or {}, headers), or None when the gateway could not be reached in time."""
    started = time.perf_counter()
    result = _send(method, path, payload)
    metrics.gateway_latency.labels(name).observe(time.perf_counter() - started)
    metrics.gateway_calls.labels(name, str(result[0]) if result else "no_answer").inc()
    return result


def _send(method: str, path: str, payload: dict | None) -> tuple[int, dict, httpx.Headers] | None:
    if not settings.QUADCODE_API_URL:
        log.error("gateway %s %s: QUADCODE_API_URL is not set", method, path)
        return None
    try:
        token = sign()
    except (OSError, ValueError) as exc:
        log.error("gateway %s %s: cannot sign with B2B_PRIVATE_KEY_FILE: %s", method, path, exc)
        return None
    try:
        response = _client().request(method, path, json=payload, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        log.error("gateway %s %s failed: %s: %s", method, path, type(exc).__name__, exc)
        return None
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return response.status_code, body, response.headers


_EMAIL_RE = re.compile(r"[^\s\"'<>@,;:]+@([^\s\"'<>@,;:]+)")


def redacted(text: str) -> str:
    """Upstream bodies go to the log, but never a full email address."""
    return _EMAIL_RE.sub(r"***@\1", text)[:_BODY_LOG_LIMIT]


def _unavailable(method: str, path: str, status: int, body: dict) -> Answer:
    log.error("gateway %s %s answered %s: %s", method, path, status, redacted(str(body)))
    return Answer(Outcome.UNAVAILABLE)


def _retry_after(headers: httpx.Headers) -> int:
    try:
        return max(1, min(int(headers.get("Retry-After", "5")), 300))
    except ValueError:
        return 5


def _restriction(body: dict) -> Outcome | None:
    return {"customer_country_restriction": Outcome.COUNTRY_RESTRICTED,
            "customer_currency_restriction": Outcome.CURRENCY_RESTRICTED}.get(body.get("error"))


def _framable(url: object) -> bool:
    """A session URL we may put in an iframe: absolute https (http only in the sandbox)."""
    if not isinstance(url, str) or len(url) > 4096:
        return False
    parts = urlsplit(url)
    schemes = {"https", "http"} if settings.B2B_ENVIRONMENT == "sandbox" else {"https"}
    return parts.scheme in schemes and bool(parts.hostname)


def session_create(customer_id: str, payload: dict) -> Answer:
    """POST /v1/b2b-gateway/customers/{customer_id}/session."""
    path = f"/v1/b2b-gateway/customers/{customer_id}/session"
    result = _call("session", "POST", path, payload)
    if result is None:
        return Answer(Outcome.UNAVAILABLE)
    status, body, headers = result
    if status == 201:
        if _framable(body.get("url")):
            return Answer(Outcome.OK, url=body["url"])
        return _unavailable("POST", path, status, body)
    if status == 404:
        return Answer(Outcome.NOT_FOUND)
    if status == 451 and _restriction(body):
        return Answer(_restriction(body))
    if status == 418:
        return Answer(Outcome.BLOCKED)
    if status == 429:
        return Answer(Outcome.RATE_LIMITED, retry_after=_retry_after(headers))
    return _unavailable("POST", path, status, body)


def customer_create(payload: dict) -> Answer:
    """POST /v1/b2b-gateway/customers: 201 created, 409 already there."""
    path = "/v1/b2b-gateway/customers"
    result = _call("customer_create", "POST", path, payload)
    if result is None:
        return Answer(Outcome.UNAVAILABLE)
    status, body, headers = result
    if status == 201:
        return Answer(Outcome.CREATED)
    if status == 409:
        return Answer(Outcome.EXISTS)
    if status == 451 and _restriction(body):
        return Answer(_restriction(body))
    if status == 429:
        return Answer(Outcome.RATE_LIMITED, retry_after=_retry_after(headers))
    if status in (400, 422):
        log.error("gateway POST %s refused the customer (%s): %s", path, status, redacted(str(body)))
        return Answer(Outcome.REJECTED, data=body)
    return _unavailable("POST", path, status, body)


def customer_block(customer_id: str) -> Answer:
    """POST /v1/b2b-gateway/customers/{customer_id}/block: 200 blocked, 404 unknown there."""
    path = f"/v1/b2b-gateway/customers/{customer_id}/block"
    result = _call("block", "POST", path)
    if result is None:
        return Answer(Outcome.UNAVAILABLE)
    status, body, headers = result
    if status == 200:
        return Answer(Outcome.OK)
    if status == 404:
        return Answer(Outcome.NOT_FOUND)
    return _unavailable("POST", path, status, body)


def allowed_countries() -> Answer:
    """GET /v1/b2b-gateway/allowed-countries: data = {"countries": [{short_code, iso_code, name}]}."""
    path = "/v1/b2b-gateway/allowed-countries"
    result = _call("allowed_countries", "GET", path)
    if result is None:
        return Answer(Outcome.UNAVAILABLE)
    status, body, headers = result
    countries = body.get("countries")
    if status == 200 and isinstance(countries, list) and all(
            isinstance(c, dict) and isinstance(c.get("short_code"), str) and len(c["short_code"]) == 2
            for c in countries):
        return Answer(Outcome.OK, data={"countries": countries})
    return _unavailable("GET", path, status, body)


def balance_push(customer_id: str, balance_id: str, *, amount: str, currency: str, updated_at: int) -> Answer:
    """PUT /v1/b2b-gateway/customers/{customer_id}/balances/{balance_id} (margin draft): the
    balance's state, updated_at in Unix microseconds."""
    path = f"/v1/b2b-gateway/customers/{customer_id}/balances/{balance_id}"
    result = _call("balance_push", "PUT", path, {"amount": amount, "amount_currency_code": currency,
                                                "updated_at": updated_at})
    if result is None:
        return Answer(Outcome.UNAVAILABLE)
    status, body, headers = result
    if status == 200:
        return Answer(Outcome.OK)
    return _unavailable("PUT", path, status, body)
