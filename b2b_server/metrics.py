"""Prometheus metrics (prometheus_client). With PROMETHEUS_MULTIPROC_DIR set (bin/serve sets
it), every web process writes its samples there and /metrics adds them up."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

http_requests = Counter("b2b_http_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
http_latency = Histogram("b2b_http_request_duration_seconds", "Time to answer, by endpoint.", ["endpoint"],
                         buckets=LATENCY_BUCKETS)
ledger_operations = Counter("b2b_ledger_operations", "Debits and credits by outcome "
                            "(applied, replayed, or the error code).", ["kind", "outcome"])
rate_limited = Counter("b2b_rate_limited", "Requests refused by a rate limit (429).", ["limit"])
rate_limiter_outages = Counter("b2b_rate_limiter_outages", "Times a rate limiter found Redis unreachable "
                               "(its process then counts on its own until Redis answers).", ["limit"])
gateway_calls = Counter("b2b_gateway_calls", "Calls to Quadcode's gateway by outcome.", ["call", "outcome"])
gateway_latency = Histogram("b2b_gateway_call_duration_seconds", "Gateway call time.", ["call"],
                            buckets=LATENCY_BUCKETS)


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
