"""The one client of Quadcode's B2B gateway (contract/margin-draft/gateway-api.yaml).

It owns the base URL, our ES256 signature, the timeouts, connection reuse and the meaning of
every upstream status: one `{status: outcome}` table per endpoint, next to its call, reads like
the README's table. A status a table does not name, a timeout or a refused connection is
UNAVAILABLE, logged with the status and the (redacted) body. Callers get a small `Answer`,
never an HTTP response.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
from django.conf import settings

from b2b_server import metrics
from b2b_server.keys import load_es256_private_key
from b2b_server.logmask import emails_masked

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


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict
    headers: httpx.Headers


# A table entry: an outcome, or a function of the reply that returns an Answer (None: the
# reply is unusable after all, e.g. a 201 without a URL we may frame).
Entry = Outcome | Callable[[_Reply], Answer | None]


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


def _send(method: str, path: str, payload: dict | None) -> _Reply | None:
    """The reply, or None when the gateway could not be asked or did not answer in time."""
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
    return _Reply(response.status_code, body if isinstance(body, dict) else {}, response.headers)


def _ask(name: str, method: str, path: str, table: dict[int, Entry], payload: dict | None = None) -> Answer:
    """Make one call and read its status through the endpoint's table."""
    started = time.perf_counter()
    reply = _send(method, path, payload)
    metrics.gateway_latency.labels(name).observe(time.perf_counter() - started)
    metrics.gateway_calls.labels(name, str(reply.status) if reply else "no_answer").inc()
    if reply is None:
        return Answer(Outcome.UNAVAILABLE)
    entry = table.get(reply.status)
    answer = entry(reply) if callable(entry) else Answer(entry) if entry is not None else None
    if answer is None:
        log.error("gateway %s %s answered %s: %s", method, path, reply.status, redacted(str(reply.body)))
        return Answer(Outcome.UNAVAILABLE)
    return answer




def redacted(text: str) -> str:
    """Upstream bodies go to the log, but never a full email address."""
    return emails_masked(text)[:_BODY_LOG_LIMIT]


# --- readers of replies, used in the tables ---------------------------------------------------

def _retry_after(reply: _Reply) -> Answer:
    try:
        seconds = max(1, min(int(reply.headers.get("Retry-After", "5")), 300))
    except ValueError:
        seconds = 5
    return Answer(Outcome.RATE_LIMITED, retry_after=seconds)


_RESTRICTIONS = {"customer_country_restriction": Outcome.COUNTRY_RESTRICTED,
                 "customer_currency_restriction": Outcome.CURRENCY_RESTRICTED}


def _restriction(reply: _Reply) -> Answer | None:
    """451 carries which restriction in `error`; a 451 without one of the two is not understood."""
    outcome = _RESTRICTIONS.get(reply.body.get("error"))
    return Answer(outcome) if outcome else None


def _framable(url: object) -> bool:
    """A session URL we may put in an iframe: absolute https (http only in the sandbox)."""
    if not isinstance(url, str) or len(url) > 4096:
        return False
    parts = urlsplit(url)
    schemes = {"https", "http"} if settings.B2B_ENVIRONMENT == "sandbox" else {"https"}
    return parts.scheme in schemes and bool(parts.hostname)


def _session_url(reply: _Reply) -> Answer | None:
    url = reply.body.get("url")
    return Answer(Outcome.OK, url=url) if _framable(url) else None


def _rejected(reply: _Reply) -> Answer:
    log.error("gateway refused the customer (%s): %s", reply.status, redacted(str(reply.body)))
    return Answer(Outcome.REJECTED, data=reply.body)


def _countries(reply: _Reply) -> Answer | None:
    countries = reply.body.get("countries")
    if isinstance(countries, list) and all(
            isinstance(c, dict) and isinstance(c.get("short_code"), str) and len(c["short_code"]) == 2
            for c in countries):
        return Answer(Outcome.OK, data={"countries": countries})
    return None


_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _amount(reply: _Reply) -> Answer | None:
    """An amount as the gateway writes it; anything else is not an answer we may act on."""
    amount = reply.body.get("amount")
    if isinstance(amount, str) and len(amount) <= 64 and _AMOUNT_RE.fullmatch(amount):
        return Answer(Outcome.OK, data={"amount": amount})
    return None


def _ssid(reply: _Reply) -> Answer | None:
    ssid = reply.body.get("ssid")
    if isinstance(ssid, str) and 0 < len(ssid) <= 1024:
        return Answer(Outcome.OK, data={"ssid": ssid})
    return None


# --- the endpoints: each status the contract documents, and what it means for us ---------------

SESSION: dict[int, Entry] = {201: _session_url, 404: Outcome.NOT_FOUND, 418: Outcome.BLOCKED,
                             429: _retry_after, 451: _restriction}
CUSTOMER_CREATE: dict[int, Entry] = {201: Outcome.CREATED, 409: Outcome.EXISTS, 400: _rejected, 422: _rejected,
                                     429: _retry_after, 451: _restriction}
BLOCK: dict[int, Entry] = {200: Outcome.OK, 404: Outcome.NOT_FOUND}
ALLOWED_COUNTRIES: dict[int, Entry] = {200: _countries}
BALANCE_PUSH: dict[int, Entry] = {200: Outcome.OK}
# 404: a gateway without margin trading has no such endpoint (the balance is then the limit).
AVAILABLE_WITHDRAWAL: dict[int, Entry] = {200: _amount, 404: Outcome.NOT_FOUND}
API_SESSION: dict[int, Entry] = {201: _ssid, 404: Outcome.NOT_FOUND, 429: _retry_after, 451: _restriction}


def session_create(customer_id: str, payload: dict) -> Answer:
    """POST /v1/b2b-gateway/customers/{customer_id}/session: a one-time trading-room URL."""
    return _ask("session", "POST", f"/v1/b2b-gateway/customers/{customer_id}/session", SESSION, payload)


def customer_create(payload: dict) -> Answer:
    """POST /v1/b2b-gateway/customers: 201 created, 409 already there."""
    return _ask("customer_create", "POST", "/v1/b2b-gateway/customers", CUSTOMER_CREATE, payload)


def customer_block(customer_id: str) -> Answer:
    """POST /v1/b2b-gateway/customers/{customer_id}/block: 200 blocked, 404 unknown there."""
    return _ask("block", "POST", f"/v1/b2b-gateway/customers/{customer_id}/block", BLOCK)


def allowed_countries() -> Answer:
    """GET /v1/b2b-gateway/allowed-countries: data = {"countries": [{short_code, iso_code, name}]}."""
    return _ask("allowed_countries", "GET", "/v1/b2b-gateway/allowed-countries", ALLOWED_COUNTRIES)


def balance_push(customer_id: str, balance_id: str, *, amount: str, currency: str, updated_at: int) -> Answer:
    """PUT /v1/b2b-gateway/customers/{customer_id}/balances/{balance_id} (margin draft): the
    balance's state, updated_at in Unix microseconds."""
    return _ask("balance_push", "PUT", f"/v1/b2b-gateway/customers/{customer_id}/balances/{balance_id}",
                BALANCE_PUSH, {"amount": amount, "amount_currency_code": currency, "updated_at": updated_at})


def available_withdrawal_amount(customer_id: str, balance_id: str) -> Answer:
    """GET …/balances/{balance_id}/available-withdrawal-amount (margin draft): data = {"amount"},
    the most the customer may withdraw while their open positions stay covered."""
    return _ask("available_withdrawal", "GET",
                f"/v1/b2b-gateway/customers/{customer_id}/balances/{balance_id}/available-withdrawal-amount",
                AVAILABLE_WITHDRAWAL)


def api_session_create(customer_id: str, payload: dict) -> Answer:
    """POST /v1/b2b-gateway/customers/{customer_id}/sessions: an ssid for a customer's trading
    program (country_code, ip, user_agent, platform_id)."""
    return _ask("api_session", "POST", f"/v1/b2b-gateway/customers/{customer_id}/sessions", API_SESSION, payload)
