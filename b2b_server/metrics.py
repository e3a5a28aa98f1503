"""Prometheus metrics (prometheus_client). With PROMETHEUS_MULTIPROC_DIR set (bin/serve sets
it), every web process writes its samples there and /metrics adds them up.

Besides the counters each request updates, some metrics are states read when /metrics is
scraped (what the outbox owes, the breaks not resolved, the liabilities, …). The apps that own
those states register a reader here (`state_gauge`), so this module knows no domain; each
reading is kept for a few seconds, so that scrapes from several Prometheus servers cost one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

http_requests = Counter("b2b_http_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
http_latency = Histogram("b2b_http_request_duration_seconds", "Time to answer, by endpoint.", ["endpoint"],
                         buckets=LATENCY_BUCKETS)
ledger_operations = Counter("b2b_ledger_operations", "Debits and credits by outcome "
                            "(applied, replayed, or the error code).", ["kind", "outcome"])
_request_children: dict[tuple[str, str, int], tuple] = {}


def request_observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its time. The labelled children are kept: looking them up
    by labels on every request cost more than the update itself."""
    key = (endpoint, method, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (http_requests.labels(endpoint, method, str(status)),
                                             http_latency.labels(endpoint))
    children[0].inc()
    children[1].observe(seconds)


rate_limited = Counter("b2b_rate_limited", "Requests refused by a rate limit (429).", ["limit"])
rate_limiter_outages = Counter("b2b_rate_limiter_outages", "Times a rate limiter found Redis unreachable "
                               "(its process then counts on its own until Redis answers).", ["limit"])
gateway_calls = Counter("b2b_gateway_calls", "Calls to Quadcode's gateway by outcome.", ["call", "outcome"])
gateway_latency = Histogram("b2b_gateway_call_duration_seconds", "Gateway call time.", ["call"],
                            buckets=LATENCY_BUCKETS)


@dataclass(frozen=True)
class _StateGauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[], dict[tuple[str, ...], float] | float | None]  # None: no value now (no sample)
    ttl: float


_state_gauges: dict[str, _StateGauge] = {}
_readings: dict[str, tuple[float, object]] = {}
_readings_lock = threading.Lock()


def state_gauge(name: str, documentation: str, read, *, labels: tuple[str, ...] = (), ttl: float = 10.0) -> None:
    """Register a gauge read at scrape time: `read()` returns a number, or {label values: number}."""
    _state_gauges[name] = _StateGauge(name, documentation, labels, read, ttl)


class _StateCollector:
    def collect(self):
        now = time.monotonic()
        for gauge in list(_state_gauges.values()):
            with _readings_lock:
                cached = _readings.get(gauge.name)
            if cached is not None and now - cached[0] < gauge.ttl:
                value = cached[1]
            else:
                try:
                    value = gauge.read()
                except Exception as exc:  # one broken reading must not hide all the others
                    log.error("metrics: reading %s failed: %s", gauge.name, exc)
                    continue
                with _readings_lock:
                    _readings[gauge.name] = (now, value)
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels) or None)
            if value is None:  # no value now: the metric is described, without a sample
                yield family
                continue
            if gauge.labels:
                for label_values, number in value.items():
                    family.add_metric(list(label_values), float(number))
            else:
                family.add_metric([], float(value))
            yield family


def state_readings_forget() -> None:
    """Read every state gauge afresh on the next scrape (tests)."""
    with _readings_lock:
        _readings.clear()


_STATE = _StateCollector()


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_STATE)
        return generate_latest(registry)
    return generate_latest(REGISTRY) + generate_latest(_state_registry())


_state_only: CollectorRegistry | None = None


def _state_registry() -> CollectorRegistry:
    global _state_only
    if _state_only is None:
        _state_only = CollectorRegistry(auto_describe=False)
        _state_only.register(_STATE)
    return _state_only
