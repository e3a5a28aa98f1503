"""A request limit shared by all web processes, kept off the balance API's request path.

Why not one Redis round trip per request, as django-ratelimit (the pages' limiter) or the
`limits` library do: on the balance API that round trip cost 18-24% of the throughput in
`bench/run` (spread: 1,683 → 1,341 ops/s; replay: 2,359 → 1,804, same run). So each process
counts its requests in memory and a background thread sends the counts to Redis every
FLUSH_SECONDS in one script call, reading back the totals of every process. A request is admitted
against the last known total plus what this process has admitted since; keys close to their
limit are re-read on every flush, so several processes stop together.

What that buys and what it costs:
- No Redis on the request path: a request never waits for it, and a Redis outage cannot slow it.
- The limit is shared to within one flush interval: for FLUSH_SECONDS after another process's
  burst, this process may admit requests the burst already used up. For a limit meant to stop a
  runaway caller, a few dozen extra calls are nothing; for money, nothing here matters (the
  ledger's rules live in the database).
- Fixed windows (aligned to the epoch: a minute window ends on the minute). A refused request
  uses no budget, so a caller that backs off is served again when its window turns.
- Redis down: each process goes on counting on its own (so across N processes the limit is N
  times looser), logs the outage once and retries Redis every OUTAGE_PAUSE_SECONDS.
- Without a Redis URL (the demo's single server) the counts stay in the process.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import redis

from b2b_server import metrics
from b2b_server.env import rate_parse

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05
OUTAGE_PAUSE_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.5  # the flusher's waits; no request ever waits on Redis

# One call per flush: add each count (0 for a key only re-read), start a new key's expiry, and
# return the totals. A script rather than a pipeline of INCRBY/EXPIRE: a quarter of the CPU.
_FLUSH_LUA = """
local ttl = tonumber(ARGV[#ARGV])
local totals = {}
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i])
  local total = redis.call('INCRBY', key, count)
  if total == count then redis.call('EXPIRE', key, ttl) end
  totals[i] = total
end
return totals
"""

class SharedLimit:
    def __init__(self, rate: str, *, redis_url: str, name: str, background: bool = True):
        self.rate = rate_parse(rate, setting=name)
        self.background = background  # False: the caller calls flush() (tests)
        self.name = name
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                           socket_connect_timeout=REDIS_TIMEOUT_SECONDS) if redis_url else None
        self._flush_script = self._redis.register_script(_FLUSH_LUA) if self._redis is not None else None
        # Counts of the current window by key: the total of all processes as last read from
        # Redis, this process's admissions being sent, and those not sent yet.
        self._window = -1
        self._known: dict[str, int] = {}
        self._sending: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._near: set[str] = set()  # keys whose known total is close to the limit: re-read on each flush
        self._near_from = self.rate.amount - max(2, self.rate.amount // 10)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._outage = False

    def retry_after(self, key: str) -> int | None:
        """Count one request for `key`. None: go ahead. Else the whole seconds until its window turns."""
        now = time.time()
        window = int(now // self.rate.period)
        with self._lock:
            if window != self._window:
                self._window, self._known, self._sending, self._pending, self._near = window, {}, {}, {}, set()
            used = self._known.get(key, 0) + self._sending.get(key, 0) + self._pending.get(key, 0)
            if used < self.rate.amount:
                self._pending[key] = self._pending.get(key, 0) + 1
                admitted = True
            else:
                admitted = False
        if self._redis is not None and self._flusher is None and self.background:
            self._start_flusher()
        if admitted:
            return None
        metrics.rate_limited.labels(self.name).inc()
        return max(1, math.ceil((window + 1) * self.rate.period - now))

    def close(self) -> None:
        self._stop.set()

    # --- the background flusher ------------------------------------------------------------

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._run, name=f"ratelimit-{self.name}", daemon=True)
                self._flusher.start()

    def _run(self) -> None:
        while not self._stop.wait(OUTAGE_PAUSE_SECONDS if self._outage else FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # a flusher that died would leave every process counting alone, silently
                log.exception("rate limiter %s: flush failed", self.name)

    def flush(self) -> None:
        """Send this process's new counts, read back the totals (one script call)."""
        with self._lock:
            window, sending = self._window, self._pending
            self._sending, self._pending = sending, {}
            near_limit = [key for key in self._near if key not in sending]
        if not sending and not near_limit:
            return
        prefix = f"b2b:rl:{self.name}:{window}:"
        keys = [*sending, *near_limit]
        try:
            replies = self._flush_script(keys=[prefix + key for key in keys],
                                         args=[*sending.values(), *[0] * len(near_limit), self.rate.period + 60])
        except redis.RedisError as exc:
            with self._lock:
                if window == self._window:  # counted here alone until Redis answers again
                    for key, count in sending.items():
                        self._learn(key, self._known.get(key, 0) + count)
                    self._sending = {}
            if not self._outage:
                self._outage = True
                metrics.rate_limiter_outages.labels(self.name).inc()
                log.error("rate limiter %s: Redis unavailable, each process now counts on its own: %s", self.name, exc)
            return
        totals = dict(zip(keys, replies, strict=True))
        with self._lock:
            if window == self._window:
                for key, total in totals.items():
                    self._learn(key, max(self._known.get(key, 0), int(total)))
                self._sending = {}
        if self._outage:
            self._outage = False
            log.warning("rate limiter %s: Redis answers again, the limit is shared again", self.name)

    def _learn(self, key: str, total: int) -> None:
        self._known[key] = total
        if total >= self._near_from:
            self._near.add(key)


_limits: dict[tuple[str, str, str], SharedLimit] = {}
_limits_lock = threading.Lock()


def shared_limit(rate: str, redis_url: str, name: str) -> SharedLimit:
    """One limiter per process and configuration (settings are read at call time, so tests that
    override them get their own)."""
    key = (rate, redis_url, name)
    limit = _limits.get(key)
    if limit is None:
        with _limits_lock:
            limit = _limits.get(key)
            if limit is None:
                limit = _limits[key] = SharedLimit(rate, redis_url=redis_url, name=name)
    return limit


def shared_limits_reset() -> None:
    """Stop every limiter's flusher and forget all counts (tests)."""
    with _limits_lock:
        for limit in _limits.values():
            limit.close()
        _limits.clear()
