"""Rate limits of the pages (logins, the trading room, the account pages): django-ratelimit,
counted in the shared cache (Redis with REDIS_URL) so that every web process shares them.

If the cache itself is down, the limits fail open — logged, not enforced — so that an outage
of Redis never locks every user out; any other failure is a bug and is not swallowed. The
balance API has its own limiter (b2b_server.ratelimit).
"""

from __future__ import annotations

import logging

import redis
from django_ratelimit.core import is_ratelimited

from b2b_server.clientip import client_ip_text
from b2b_server.env import rate_parse

log = logging.getLogger(__name__)
# What a shared cache that does not answer raises (Django's RedisCache: redis-py's errors).
_CACHE_DOWN = (redis.RedisError, OSError)


def ip_key(group, request) -> str:
    """django-ratelimit's key function: the client address, by our trusted-proxy rules."""
    return client_ip_text(request.META)


def over_limit(request, group: str, limits: list[tuple[object, str, str]]) -> bool:
    """Count this request against each (key, setting name, rate); True when any is exceeded.
    Rates are read in our one grammar (b2b_server.env) at call time."""
    limited = False
    for key, setting, rate in limits:
        rate = rate_parse(rate, setting=setting).for_django_ratelimit()
        name = key if isinstance(key, str) else key.__name__
        try:
            limited |= is_ratelimited(request, group=f"{group}:{name}", key=key, rate=rate, increment=True)
        except _CACHE_DOWN as exc:
            log.error("rate limiter unavailable, not limiting %s: %s", group, exc)
            return False
    return limited


def login_over_limit(request, group: str, rate: str, *, setting: str = "B2B_LOGIN_RATE") -> bool:
    """Password guessing: POSTs per client IP and per submitted username."""
    return request.method == "POST" and over_limit(request, group, [(ip_key, setting, rate),
                                                                     ("post:username", setting, rate)])
