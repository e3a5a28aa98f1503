"""Shared fixtures: real ES256 keys, real tokens, Quadcode's side calling our balance API,
customers and balances built through services; the gateway simulator (tests/gateway_peer.py)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import jwt
import pytest
import redis
from django.db import connection
from django.test import Client
from django.test.client import ClientHandler

from b2b_server.errors import DomainError
from b2b_server.handler import FastPathMixin
from b2b_server.keys import load_es256_private_key, write_es256_keypair
from balances import services
from balances.models import Balance
from balances.services import balance_open
from customers.services import customer_create

pytest_plugins = ["tests.gateway_peer", "tests.browser"]

API_IP = "127.0.0.1"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_up(url: str = TEST_REDIS_URL) -> bool:
    try:
        return redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_up(), reason="no Redis at TEST_REDIS_URL (bin/test starts one)")


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit("The tests run on PostgreSQL: set DATABASE_URL=postgres://... (see README).", returncode=2)


def pytest_terminal_summary(terminalreporter):
    from tests.fuzz import report

    for suite, outcomes in sorted(report.RUNS.items()):
        detail = ", ".join(f"{outcome}: {n}" for outcome, n in sorted(outcomes.items()))
        terminalreporter.write_line(f"{suite}: {sum(outcomes.values())} cases ({detail})")
    for line in report.LINES:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    for name in ("quadcode", "rotated", "stranger", "b2b"):
        write_es256_keypair(directory / f"{name}-private.pem", directory / f"{name}-public.pem")
    return directory


@pytest.fixture(autouse=True)
def fresh_cache():
    """Page rate-limit counters start at zero in every test (they live in the cache)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def celery_join_flag():
    """Celery keeps "a task is running here" in one process-wide flag, which an eager task sets
    and then restores. Eager tasks run from several threads at once (a test's concurrent
    requests, each queueing a customer email) can restore it in the wrong order and leave it set,
    after which any later `.get()` in this process is refused. Each test starts clear."""
    from celery._state import _set_task_join_will_block

    yield
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def quadcode_settings(settings, key_dir):
    settings.B2B_ENVIRONMENT = "sandbox"
    settings.QUADCODE_JWT_ISSUER = "qc"
    settings.QUADCODE_PUBLIC_KEY_FILES = [str(key_dir / "quadcode-public.pem"), str(key_dir / "rotated-public.pem")]
    settings.B2B_ALLOWED_IPS = [API_IP, "::1", "10.20.0.0/16", "2001:db8:1::/48"]
    settings.B2B_TRUSTED_PROXIES = []
    return settings


@pytest.fixture
def mint(key_dir):
    """mint(**claims overrides, key="quadcode", algorithm="ES256") -> a token as Quadcode signs it."""

    def _mint(*, key: str = "quadcode", algorithm: str = "ES256", headers: dict | None = None, drop=(), **overrides):
        now = int(time.time())
        claims = {"iss": "qc", "aud": "sandbox", "iat": now, "exp": now + 300}
        claims.update(overrides)
        for name in drop:
            claims.pop(name, None)
        signing_key = load_es256_private_key(key_dir / f"{key}-private.pem")
        # Signed as raw JSON so that tests can send claims an encoder would refuse to write.
        return jwt.api_jws.encode(json.dumps(claims).encode(), signing_key, algorithm=algorithm, headers=headers)

    return _mint


class FastPathClientHandler(FastPathMixin, ClientHandler):
    """The test client's handler, taking the balance API's fast way as the server does."""


def fast_path_client(**defaults) -> Client:
    client = Client(**defaults)
    client.handler = FastPathClientHandler(enforce_csrf_checks=False)
    return client


class QuadcodeCaller:
    """Quadcode's servers calling our balance API: signed as Quadcode signs, from an allowed IP,
    through the server's fast way (b2b_server.handler; tests/test_fast_path.py holds it to
    Django's full way)."""

    def __init__(self, mint):
        self.client = fast_path_client(REMOTE_ADDR=API_IP)
        self.mint = mint

    def _headers(self, token, extra):
        headers = dict(extra)
        if token is not False:
            headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {token or self.mint()}")
        return headers

    def get_balance(self, customer_id, balance_id, *, token=None, **extra):
        return self.client.get(f"/v1/customers/{customer_id}/balances/{balance_id}", **self._headers(token, extra))

    def post(self, customer_id, balance_id, operation, body, *, token=None, raw: bytes | None = None,
             content_type="application/json", **extra):
        data = raw if raw is not None else json.dumps(body)
        return self.client.generic("POST", f"/v1/customers/{customer_id}/balances/{balance_id}/{operation}",
                                   data, content_type=content_type, **self._headers(token, extra))

    def debit(self, customer_id, balance_id, body, **kw):
        return self.post(customer_id, balance_id, "debit", body, **kw)

    def credit(self, customer_id, balance_id, body, **kw):
        return self.post(customer_id, balance_id, "credit", body, **kw)


@pytest.fixture
def quadcode(mint) -> QuadcodeCaller:
    return QuadcodeCaller(mint)


def ids(balance) -> tuple[str, str]:
    """(customer_id, balance_id) of a balance, as the API's paths take them."""
    return balance.customer.customer_id, balance.balance_id


@contextmanager
def database_down():
    """Point the default connection at a port where nothing listens, as during an outage."""
    real = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.settings_dict["PORT"] = real
        connection.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str | None = None, **kw):
        kw.setdefault("email", "customer@example.com")
        kw.setdefault("country_code", "DE")
        return customer_create(customer_id=customer_id or new_id("cust"), **kw)

    return _make


@pytest.fixture
def make_balance(db, make_customer):
    def _make(amount="100.00", currency="USD", customer=None, balance_id=None, **kw) -> Balance:
        customer = customer or make_customer()
        return services.balance_open(customer_id=customer.customer_id, balance_id=balance_id or new_id("bal"),
                                     currency=currency, amount=Decimal(amount), **kw)

    return _make


def body(amount="10.00", currency="USD", request_id=None, comment="option", **extra) -> dict:
    result = {"request_id": new_id("req") if request_id is None else request_id, "amount": amount,
              "currency_code": currency,
              "comment": comment}
    result.update(extra)
    return result


def ledger_snapshot() -> tuple:
    """Everything a request could change: balances, operations, entries."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT balance_id, amount FROM balances_balance ORDER BY id")
        balances = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM balances_operation")
        operations = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM balances_ledgerentry")
        entries = cursor.fetchone()[0]
    return balances, operations, entries


def run_parallel(count: int, fn):
    """Run fn(i) in `count` threads released at once; return results or raised DomainErrors."""
    barrier = threading.Barrier(count)

    def call(i):
        try:
            barrier.wait()
            return fn(i)
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


@pytest.fixture(params=["postgresql", "portable"])
def ledger_path(request, monkeypatch):
    """Run a test on each implementation of a money movement (see balances.services)."""
    if request.param == "portable":
        monkeypatch.setitem(services.LEDGER_ATTEMPTS, "postgresql", services.LEDGER_ATTEMPTS["portable"])
    return request.param


@pytest.fixture
def trader(db):
    """A customer with a login, a real USD balance and a demo EUR balance."""
    customer = customer_create(customer_id=new_id("tr"), email="ann@example.com", country_code="DE",
                               username=new_id("ann"), password="pw-ann-2026", first_name="Ann", last_name="Lee")
    balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_EUR", currency="EUR",
                 type="demo", amount=Decimal("50"))
    balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_USD", currency="USD",
                 amount=Decimal("1000"))
    return customer


@pytest.fixture
def browser_client(client, trader):
    client.force_login(trader.user)
    return client
