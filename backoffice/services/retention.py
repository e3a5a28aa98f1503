"""Keeping personal data no longer than needed: delivered gateway calls' bodies after
B2B_OUTBOX_RETENTION_DAYS, sign-up addresses after B2B_IP_RETENTION_DAYS, expired sessions."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from customers.services import signup_ips_drop
from quadcode.outbox import gateway_payloads_expire


def outbox_payloads_expire() -> int:
    return gateway_payloads_expire(older_than=dt.timedelta(days=settings.B2B_OUTBOX_RETENTION_DAYS)).calls


def signup_ips_expire() -> int:
    return signup_ips_drop(older_than=dt.timedelta(days=settings.B2B_IP_RETENTION_DAYS))


def sessions_clear() -> int:
    """Expired sessions deleted (Django's clearsessions, counted)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
