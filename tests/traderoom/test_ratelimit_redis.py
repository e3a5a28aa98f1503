"""Rate-limit counters live in the shared cache: with REDIS_URL, in Redis, so that every web
process counts against the same limit."""

import pytest
import redis

from tests.conftest import TEST_REDIS_URL as REDIS_URL
from tests.conftest import needs_redis


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                                   "KEY_PREFIX": "b2b-test"}}
    from django.core.cache import cache

    cache.clear()
    yield redis.Redis.from_url(REDIS_URL)
    cache.clear()


@needs_redis
def test_limits_are_counted_in_redis(browser_client, settings, redis_cache):
    settings.B2B_TRADEROOM_RATE_PER_USER = "2/d"  # day windows: a window boundary mid-test would reset the count
    statuses = [browser_client.get("/traderoom/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    counters = [key for key in redis_cache.keys("b2b-test*") if b"rl:" in key]
    assert counters and max(int(redis_cache.get(key)) for key in counters) == 3


def test_with_redis_down_the_limits_fail_open_and_say_so(browser_client, settings, caplog, client, trader):
    import logging

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    settings.B2B_TRADEROOM_RATE_PER_USER = "1/d"
    with caplog.at_level(logging.ERROR, logger="b2b_server.page_limits"):
        statuses = [browser_client.get("/traderoom/").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert any("rate limiter unavailable" in r.getMessage() for r in caplog.records)


def test_only_the_caches_own_failures_let_a_request_through(browser_client, settings, monkeypatch):
    """A failure that is not the cache's (here: django-ratelimit refusing a rate it cannot read)
    is a bug, not an outage: it must not switch the limit off."""
    import django_ratelimit.core

    from b2b_server import page_limits

    def broken(*args, **kwargs):
        raise ValueError("a rate django-ratelimit cannot read")

    monkeypatch.setattr(page_limits, "is_ratelimited", broken)
    assert django_ratelimit.core.is_ratelimited is not broken
    with pytest.raises(ValueError, match="cannot read"):
        browser_client.get("/traderoom/")
