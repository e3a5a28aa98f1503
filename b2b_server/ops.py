"""Endpoints for load balancers and monitoring (no domain code)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from b2b_server import metrics
from b2b_server.clientip import client_ip, in_networks, networks

log = logging.getLogger(__name__)


HEARTBEAT_KEY = "scheduler-heartbeat"


def _checks() -> dict[str, str]:
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:  # any failure is the answer, never a 500
        log.error("healthz: database: %s", exc)
        checks["database"] = "unavailable"
    try:
        cache.set("healthz", "ok", 5)
        checks["cache"] = "ok" if cache.get("healthz") == "ok" else "unavailable"
    except Exception as exc:
        log.error("healthz: cache: %s", exc)
        checks["cache"] = "unavailable"
    return checks


def _answer(checks: dict[str, str], required: tuple[str, ...]) -> JsonResponse:
    healthy = all(checks[name] == "ok" for name in required)
    status = "ok" if all(value == "ok" for value in checks.values()) else "degraded" if healthy else "unavailable"
    return JsonResponse({"status": status, **checks}, status=200 if healthy else 503)


def healthz(request) -> JsonResponse:
    """200 when the database and the cache answer, else 503 naming what does not."""
    return _answer(_checks(), required=("database", "cache"))


def healthz_api(request) -> JsonResponse:
    """For the balance API's load balancer: 200 while the database answers. The API keeps
    moving money without the cache (its rate limit counts in each process), so a cache outage must not take
    it out of rotation; the answer still names the cache ("degraded")."""
    return _answer(_checks(), required=("database",))


def prometheus(request) -> HttpResponse:
    """Metrics for Prometheus, to the addresses in B2B_METRICS_ALLOWED_IPS only."""
    address = client_ip(request.META)
    if address is None or not in_networks(address, networks("B2B_METRICS_ALLOWED_IPS")):
        return JsonResponse({"error": "forbidden", "message": "Access to metrics is forbidden."}, status=403)
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def _dependencies_up() -> dict[tuple[str], float]:
    return {(name,): 1.0 if state == "ok" else 0.0 for name, state in _checks().items()}


def _heartbeat() -> float | None:
    """When the scheduler's heartbeat task last ran (celery beat, through a worker); kept in the
    shared cache, so it is seen by every web process when REDIS_URL is set."""
    try:
        return cache.get(HEARTBEAT_KEY)
    except Exception:  # the cache is down: b2b_dependency_up says so; no value here
        return None


metrics.state_gauge("b2b_dependency_up", "Whether what the server needs answers (1) or not (0).", _dependencies_up,
                    labels=("dependency",), ttl=5.0)
metrics.state_gauge("b2b_scheduler_heartbeat_timestamp_seconds",
                    "When the scheduler's heartbeat task last ran (beat every minute, through a worker).", _heartbeat,
                    ttl=5.0)
