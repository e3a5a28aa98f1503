"""Quadcode's calls are limited per customer (B2B_API_RATE_PER_CUSTOMER): 429 with Retry-After
past the limit, nothing applied; with Redis down money keeps moving. The shared counting itself
(b2b_server.ratelimit) is tested against a real Redis below; several server processes sharing
one limit: tests/traderoom/test_rate_limits_processes.py."""

import logging
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from b2b_server.env import rate_parse
from b2b_server.ratelimit import SharedLimit, shared_limits_reset
from balances.models import Operation
from tests.conftest import TEST_REDIS_URL as REDIS_URL
from tests.conftest import body, ids, ledger_snapshot, needs_redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_limiters():
    shared_limits_reset()  # counts start at zero for each test
    yield
    shared_limits_reset()



def test_past_the_rate_a_customer_gets_429_with_retry_after_and_nothing_is_applied(quadcode, make_balance, settings):
    settings.B2B_API_RATE_PER_CUSTOMER = "3/day"
    balance = make_balance("100.00")
    statuses = [quadcode.get_balance(*ids(balance)).status_code,
                quadcode.debit(*ids(balance), body("10.00")).status_code,
                quadcode.credit(*ids(balance), body("5.00")).status_code]
    assert statuses == [200, 201, 201]
    before = ledger_snapshot()

    refused = quadcode.debit(*ids(balance), body("10.00", request_id="over-the-limit"))

    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited" and refused.json()["message"]
    assert 1 <= int(refused["Retry-After"]) <= 24 * 3600
    assert ledger_snapshot() == before
    assert not Operation.objects.filter(request_id="over-the-limit").exists()
    balance.refresh_from_db()
    assert balance.amount == Decimal("95.00")


def test_the_limit_is_per_customer(quadcode, make_balance, settings):
    settings.B2B_API_RATE_PER_CUSTOMER = "2/day"
    busy, quiet = make_balance(), make_balance()
    assert [quadcode.get_balance(*ids(busy)).status_code for _ in range(3)] == [200, 200, 429]
    assert quadcode.get_balance(*ids(quiet)).status_code == 200


def test_calls_refused_for_their_token_do_not_use_up_the_customers_budget(quadcode, make_balance, settings, mint):
    settings.B2B_API_RATE_PER_CUSTOMER = "2/day"
    balance = make_balance()
    forged = mint(key="stranger")
    assert {quadcode.get_balance(*ids(balance), token=forged).status_code for _ in range(5)} == {401}
    assert [quadcode.get_balance(*ids(balance)).status_code for _ in range(3)] == [200, 200, 429]


def test_a_refused_call_does_not_use_up_budget_so_the_limit_is_a_rate_not_a_ban(quadcode, make_balance, settings):
    settings.B2B_API_RATE_PER_CUSTOMER = "2/second"
    balance = make_balance()
    time.sleep(1 - time.time() % 1 + 0.01)  # at the start of a window: all six calls fall in it
    first = [quadcode.get_balance(*ids(balance)).status_code for _ in range(6)]
    assert first == [200, 200, 429, 429, 429, 429]
    assert int(quadcode.get_balance(*ids(balance))["Retry-After"]) == 1
    time.sleep(1.05)  # the next window: the hammering above has left no debt
    assert [quadcode.get_balance(*ids(balance)).status_code for _ in range(3)] == [200, 200, 429]


def test_an_empty_rate_turns_the_limit_off(quadcode, make_balance, settings):
    settings.B2B_API_RATE_PER_CUSTOMER = ""
    balance = make_balance()
    assert {quadcode.get_balance(*ids(balance)).status_code for _ in range(30)} == {200}


def test_with_redis_down_money_keeps_moving_and_each_process_counts_on_its_own(quadcode, make_balance, settings,
                                                                               caplog):
    settings.B2B_API_RATE_PER_CUSTOMER = "3/day"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    balance = make_balance("100.00")
    with caplog.at_level(logging.ERROR, logger="b2b_server.ratelimit"):
        statuses = [quadcode.debit(*ids(balance), body("1.00")).status_code for _ in range(2)]
        time.sleep(0.3)  # the flusher has tried Redis (and found it down) meanwhile
        statuses += [quadcode.debit(*ids(balance), body("1.00")).status_code for _ in range(2)]
    # no request waited for Redis or failed for it; the process still counts its own calls
    assert statuses == [201, 201, 201, 429]
    balance.refresh_from_db()
    assert balance.amount == Decimal("97.00")
    outages = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(outages) == 1, "one log line per outage, not one per flush"


def test_a_rate_that_does_not_parse_stops_the_server_at_start_naming_the_variable():
    env = {**os.environ, "B2B_API_RATE_PER_CUSTOMER": "lots", "DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "B2B_API_RATE_PER_CUSTOMER='lots' is not a rate" in result.stderr


# --- the shared counting, against a real Redis: two limiters stand for two processes ----------

@pytest.fixture
def two_processes():
    redis.Redis.from_url(REDIS_URL).flushdb()
    a, b = (SharedLimit("5/day", redis_url=REDIS_URL, name="t", background=False) for _ in range(2))
    return a, b


def _admitted(limit, key="cust", n=1) -> list[bool]:
    return [limit.retry_after(key) is None for _ in range(n)]


@needs_redis
def test_two_processes_share_one_limit_once_they_have_flushed(two_processes):
    a, b = two_processes
    assert _admitted(a, n=3) == [True] * 3
    a.flush()
    assert _admitted(b) == [True]
    b.flush()  # sends its one, reads back the total of both: 4
    assert _admitted(b, n=2) == [True, False]
    b.flush()
    a.flush()  # a's count of this key is near the limit: it re-reads it on every flush
    assert _admitted(a) == [False]
    client = redis.Redis.from_url(REDIS_URL)
    (key,) = client.keys("b2b:rl:t:*")
    assert int(client.get(key)) == 5


@needs_redis
def test_without_flushes_each_process_could_admit_its_own_limit_which_is_the_bound_of_the_error(two_processes):
    # The documented cost of keeping Redis off the request path: between two flushes a process
    # does not see the other's admissions. Each process alone never passes the limit.
    a, b = two_processes
    assert _admitted(a, n=6) == [True] * 5 + [False]
    assert _admitted(b, n=6) == [True] * 5 + [False]


@needs_redis
def test_keys_are_counted_apart(two_processes):
    a, _ = two_processes
    assert _admitted(a, "one", n=5) == [True] * 5
    a.flush()
    assert _admitted(a, "two", n=1) == [True]


@needs_redis
def test_redis_holds_one_counter_per_key_and_window_that_expires(two_processes):
    a, _ = two_processes
    _admitted(a, n=2)
    a.flush()
    client = redis.Redis.from_url(REDIS_URL)
    (key,) = client.keys("b2b:rl:t:*")
    assert key.decode() == f"b2b:rl:t:{int(time.time() // 86400)}:cust"
    assert int(client.get(key)) == 2
    assert 86400 < client.ttl(key) <= 86400 + 60


@pytest.mark.parametrize("rate, expected", [("1200/minute", (1200, 60)), ("20/second", (20, 1)), ("5/day", (5, 86400)),
                                            ("20/m", (20, 60)), ("100/5m", (100, 300)), ("3/d", (3, 86400))])
def test_rates_are_written_count_slash_period_and_mean_the_same_to_every_limiter(rate, expected):
    parsed = rate_parse(rate, setting="X")
    assert (parsed.amount, parsed.period) == expected
    # the pages' limiter (django-ratelimit) is handed the same rate in its own notation
    assert parsed.for_django_ratelimit() == f"{expected[0]}/{expected[1]}s"


# Spaces are refused: django-ratelimit cannot read "7 / hour", and one grammar serves both limiters.
@pytest.mark.parametrize("rate", ["lots", "0/minute", "10/fortnight", "-1/s", "10", "/m", "1e3/m", "7 / hour",
                                  "10/0m", " 10/m"])
def test_a_rate_that_does_not_parse_is_refused(rate):
    with pytest.raises(ImproperlyConfigured, match="X="):
        rate_parse(rate, setting="X")
