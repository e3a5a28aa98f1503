"""Who is calling the back-office API, checked before anything is done (Decard's scheme, see
integrations.signing). In this order, each refusal changing nothing:

1. the four headers, well formed (401);
2. the key: known and not revoked (401);
3. the timestamp within B2B_HMAC_WINDOW of our clock (401);
4. the signature over key id, timestamp, nonce and the payload as received (401) — a body
   changed after signing fails here;
5. the caller's address within the key's allowed IPs (403);
6. the nonce unseen within the window, across every process (Redis; 401; Redis down: 503,
   never admitted unchecked);
7. the per-key rate limit B2B_API_KEY_RATE (429).
The role is checked by each view (403) — see integrations.roles.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from audit.actors import Actor
from b2b_server.clientip import client_ip, in_networks
from b2b_server.errors import RateLimited, ServiceUnavailable
from b2b_server.ratelimit import shared_limit
from integrations.errors import AddressRefused, SignatureRefused
from integrations.models import ApiKey
from integrations.roles import GRANTS
from integrations.services import api_key_secret
from integrations.signing import NONCE_MAX_LENGTH, NONCE_MIN_LENGTH, signature, signature_matches

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiCaller:
    key: ApiKey
    actor: Actor

    @property
    def key_id(self) -> str:
        return self.key.key_id


def _header(meta: dict, name: str) -> str:
    value = meta.get("HTTP_" + name.upper().replace("-", "_"))
    if not value:
        raise SignatureRefused(f"The {name} header is missing.")
    return value


def signed_payload(request) -> bytes:
    """What the signature covers: the raw query string of a GET or DELETE, else the raw body."""
    if request.method in ("GET", "DELETE"):
        return request.META.get("QUERY_STRING", "").encode("latin-1")
    return request.body


class _LocalNonces:
    """Nonces seen by this process, when no Redis is configured (the single-process demo)."""

    def __init__(self):
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            if self._seen.get(key, 0) > now:
                return False
            self._seen[key] = now + ttl
            return True


_local = _LocalNonces()
_clients: dict[str, redis.Redis] = {}


def _redis(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client


def _nonce_claim(key_id: str, nonce: str) -> bool:
    """True the first time this key's nonce is seen within the window (kept twice as long as the
    window, so that one accepted at its edge is still remembered while its timestamp is)."""
    ttl = settings.B2B_HMAC_WINDOW * 2
    name = f"b2b:nonce:{key_id}:{nonce}"
    url = settings.REDIS_URL
    if not url:
        return _local.claim(name, ttl)
    try:
        return bool(_redis(url).set(name, b"1", nx=True, px=int(ttl * 1000)))
    except redis.RedisError as exc:
        # Fail closed: without the shared record a replay could not be told from a first call.
        log.error("api: cannot check nonces in Redis: %s", exc)
        raise ServiceUnavailable("Cannot check the request's nonce now; nothing was done, retry shortly.") from None


def _address_allowed(key: ApiKey, meta: dict) -> bool:
    if not key.allowed_ips:
        return True
    address = client_ip(meta)
    return address is not None and in_networks(address, (ipaddress.ip_network(net) for net in key.allowed_ips))


def api_caller(request) -> ApiCaller:
    meta = request.META
    key_id = _header(meta, "X-Api-Key")
    timestamp = _header(meta, "X-Timestamp")
    nonce = _header(meta, "X-Nonce")
    given = _header(meta, "X-Signature")
    if not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureRefused("X-Timestamp must be Unix time in milliseconds.")
    if not NONCE_MIN_LENGTH <= len(nonce) <= NONCE_MAX_LENGTH or not nonce.isascii() or not nonce.isprintable():
        raise SignatureRefused(f"X-Nonce must be {NONCE_MIN_LENGTH}-{NONCE_MAX_LENGTH} printable ASCII characters.")
    key = ApiKey.objects.filter(key_id=key_id[:40]).first() if key_id.isascii() else None
    if key is None or key.revoked_at is not None:
        raise SignatureRefused("Unknown or revoked API key.")
    if abs(time.time() * 1000 - int(timestamp)) > settings.B2B_HMAC_WINDOW * 1000:
        raise SignatureRefused(f"X-Timestamp is more than {settings.B2B_HMAC_WINDOW:g} s from the server's clock.")
    expected = signature(secret=api_key_secret(key), key_id=key.key_id, timestamp=timestamp, nonce=nonce,
                         payload=signed_payload(request))
    if not signature_matches(expected, given):
        raise SignatureRefused("The signature does not match the request.")
    if not _address_allowed(key, meta):
        raise AddressRefused()
    if not _nonce_claim(key.key_id, nonce):
        raise SignatureRefused("This nonce was used before.")
    rate = settings.B2B_API_KEY_RATE
    if rate:
        retry_after = shared_limit(rate, settings.REDIS_URL, "api-key").retry_after(key.key_id)
        if retry_after is not None:
            raise RateLimited(retry_after, f"Too many calls for this key; retry in {retry_after} s.")
    return ApiCaller(key=key, actor=Actor.api(key.key_id, GRANTS[key.role]))
