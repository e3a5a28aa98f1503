"""Two production servers (bin/serve, granian), one Redis: every rate limit is one limit for all
web processes, whichever process a request lands on.

The calls alternate between the two servers; if each process counted on its own, none of them
would reach its limit and every call would pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client

from b2b_server.ratelimit import FLUSH_SECONDS
from balances.models import Operation
from balances.services import balance_open
from customers.services import customer_create
from tests.conftest import new_id, redis_up
from tests.gateway_peer import B2B_ISSUER, ROOT, free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL_PROCESSES", "redis://127.0.0.1:6379/14")

pytestmark = pytest.mark.django_db(transaction=True)


if not redis_up(REDIS_URL):
    pytestmark = [pytestmark, pytest.mark.skip(reason="no Redis (bin/test starts one)")]


def call(url: str, *, method: str = "GET", headers: dict | None = None, payload: dict | None = None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def servers(simulator, key_dir, tmp_path):
    """Two separate bin/serve processes on one database and one Redis, with small limits."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    db = connection.settings_dict
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
           "REDIS_URL": REDIS_URL, "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
           "B2B_ENVIRONMENT": "sandbox", "QUADCODE_JWT_ISSUER": "qc",
           "QUADCODE_PUBLIC_KEY_FILES": str(key_dir / "quadcode-public.pem"), "B2B_ALLOWED_IPS": "127.0.0.1",
           "QUADCODE_API_URL": simulator.url, "B2B_PRIVATE_KEY_FILE": str(key_dir / "b2b-private.pem"),
           "B2B_JWT_ISSUER": B2B_ISSUER, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           # day windows: no window boundary can fall inside the test
           "B2B_API_RATE_PER_CUSTOMER": "5/day", "B2B_TRADEROOM_RATE_PER_USER": "3/day",
           "B2B_TRADEROOM_RATE_PER_IP": "5/day",
           "GRANIAN_WORKERS": "1", "GRANIAN_BLOCKING_THREADS": "1", "REQUEST_LOG_LEVEL": "WARNING"}
    processes, urls = [], []
    for n in range(2):
        port = free_port()
        log = open(tmp_path / f"server{n}.log", "w")
        processes.append(subprocess.Popen(
            [str(ROOT / "bin" / "serve")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**env, "GRANIAN_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics{n}")}))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            for _ in range(150):
                try:
                    if call(f"{url}/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError(f"a server did not start: {(tmp_path / 'server0.log').read_text()}")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


def _customer(name: str):
    customer = customer_create(customer_id=new_id(name), email=f"{name}@example.com", country_code="DE",
                               username=new_id(name), password="pw-2026-rate", first_name=name.title(),
                               last_name="Lee")
    balance_open(customer_id=customer.customer_id, balance_id=f"{customer.customer_id}_USD", currency="USD",
                 amount=Decimal("100"))
    return customer


def test_the_balance_api_limit_per_customer_is_shared_by_the_processes(servers, mint):
    customer = _customer("gail")
    path = f"/v1/customers/{customer.customer_id}/balances/{customer.customer_id}_USD"
    auth = {"Authorization": f"Bearer {mint()}"}

    answers = []
    for n in range(8):
        answers.append(call(f"{servers[n % 2]}{path}", headers=auth))
        # The API's limiter shares its counts through Redis in the background, every
        # FLUSH_SECONDS (b2b_server.ratelimit); calls further apart than that are counted exactly.
        time.sleep(5 * FLUSH_SECONDS)

    assert [status for status, _, _ in answers] == [200] * 5 + [429] * 3
    for _, headers, content in answers[5:]:
        assert json.loads(content)["error"] == "rate_limited"
        assert 1 <= int(headers["Retry-After"]) <= 24 * 3600
    # a debit past the limit, on either process, is refused and applies nothing
    for url in servers:
        status, _, _ = call(f"{url}{path}/debit", method="POST", headers=auth, payload={
            "request_id": f"late-{url[-5:]}", "amount": "1.00", "currency_code": "USD", "comment": ""})
        assert status == 429
    assert not Operation.objects.filter(request_id__startswith="late-").exists()
    # another customer has a budget of its own
    other = _customer("hal")
    status, _, _ = call(f"{servers[1]}/v1/customers/{other.customer_id}/balances/{other.customer_id}_USD",
                        headers=auth)
    assert status == 200


def _session_cookie(user) -> dict:
    client = Client()
    client.force_login(user)  # a database session, which both servers read
    name = django_settings.SESSION_COOKIE_NAME
    return {"Cookie": f"{name}={client.cookies[name].value}"}


def test_the_trading_room_limits_per_user_and_per_ip_are_shared_by_the_processes(servers, simulator):
    ann, bob = _customer("ann"), _customer("bob")
    ann_cookie, bob_cookie = _session_cookie(ann.user), _session_cookie(bob.user)

    # Ann: 3 per user. Her 4th visit, on whichever process, is refused (and counts for the IP).
    ann_statuses = [call(f"{servers[n % 2]}/traderoom/", headers=ann_cookie)[0] for n in range(4)]
    assert ann_statuses == [200, 200, 200, 429]
    # Bob, from the same IP (5 per IP): one visit fits, the next does not, though he is under 3.
    bob_first = call(f"{servers[1]}/traderoom/", headers=bob_cookie)
    gateway_calls = len(simulator.calls())
    bob_second = call(f"{servers[0]}/traderoom/", headers=bob_cookie)

    assert bob_first[0] == 200
    assert bob_second[0] == 429
    assert int(bob_second[1]["Retry-After"]) >= 1
    assert b"Too many attempts" in bob_second[2]
    # the refused visit never reached the gateway: no session opened, no customer created
    assert len(simulator.calls()) == gateway_calls
