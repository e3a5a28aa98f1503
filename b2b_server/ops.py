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
