"""Reads of what we know from and owe to the gateway."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from quadcode.models import AllowedCountry, GatewayCall


def gateway_calls_due(*, limit: int = 500) -> list[int]:
    """Pending calls whose next attempt is due and that nobody is working on."""
    now = timezone.now()
    return list(GatewayCall.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=now)
                .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def gateway_calls_pending_count() -> int:
    return GatewayCall.objects.filter(delivered_at__isnull=True).count()


def country_known_refused(country_code: str) -> bool:
    """True when a fresh list from the gateway exists and does not name this country. Without a
    list (never fetched, or older than B2B_ALLOWED_COUNTRIES_MAX_AGE) nothing is known."""
    oldest = timezone.now() - dt.timedelta(seconds=settings.B2B_ALLOWED_COUNTRIES_MAX_AGE)
    countries = AllowedCountry.objects.filter(fetched_at__gte=oldest)
    return countries.exists() and not countries.filter(short_code=country_code).exists()


def allowed_countries_count() -> int:
    return AllowedCountry.objects.count()


def gateway_calls_oldest_pending_seconds() -> float:
    oldest = GatewayCall.objects.filter(delivered_at__isnull=True).order_by("created_at") \
        .values_list("created_at", flat=True).first()
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


def customer_gateway_calls(*, customer_id: str) -> list[GatewayCall]:
    """Every call we made (or owe) the gateway on this customer's behalf, oldest first."""
    return list(GatewayCall.objects.filter(customer_id=customer_id).order_by("id"))
