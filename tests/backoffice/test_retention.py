"""Personal data kept no longer than needed (beat runs each nightly; `manage.py pii_retention`
runs them now): delivered gateway calls lose their bodies after B2B_OUTBOX_RETENTION_DAYS (30),
sign-up addresses go after B2B_IP_RETENTION_DAYS (180), expired sessions are cleared."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from backoffice import tasks
from customers.models import Customer
from customers.selectors import customer_get, customer_profile
from quadcode.models import GatewayCall
from quadcode.services import customer_register

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]
DAY = dt.timedelta(days=1)


def registered(customer_id: str, *, age: dt.timedelta) -> GatewayCall:
    """A customer registered at the gateway `age` ago (the call delivered then)."""
    customer_register(customer_id=customer_id, email=f"{customer_id}@example.com", country_code="DE",
                      signup_ip="198.51.100.5")
    then = timezone.now() - age
    Customer.objects.filter(customer_id=customer_id).update(created_at=then)
    call = GatewayCall.objects.get(customer_id=customer_id)
    assert call.delivered_at is not None and "sealed" in call.payload
    GatewayCall.objects.filter(pk=call.pk).update(created_at=then, delivered_at=then)
    return call


def test_the_default_retention_periods():
    assert (settings.B2B_OUTBOX_RETENTION_DAYS, settings.B2B_IP_RETENTION_DAYS) == (30, 180)


def test_delivered_bodies_are_scrubbed_after_the_retention_period_and_not_before(simulator):
    old, young = registered("ret-old", age=31 * DAY), registered("ret-young", age=29 * DAY)
    simulator.fault("customers", 503, times=5)
    customer_register(customer_id="ret-pending", email="p@example.com", country_code="DE", signup_ip="198.51.100.6")
    pending = GatewayCall.objects.get(customer_id="ret-pending")
    GatewayCall.objects.filter(pk=pending.pk).update(created_at=timezone.now() - 40 * DAY)
    assert tasks.outbox_payloads_expire() == 1
    for call in (old, young, pending):
        call.refresh_from_db()
    assert old.payload == {} and "sealed" in young.payload
    assert "sealed" in pending.payload  # not sent yet: still owed to the gateway, so still needed
    assert tasks.outbox_payloads_expire() == 0  # a rerun finds nothing more


def test_signup_addresses_are_dropped_after_their_retention_period(settings):
    registered("ip-old", age=181 * DAY)
    registered("ip-young", age=179 * DAY)
    assert tasks.signup_ips_expire() == 1
    assert customer_profile(customer=customer_get(customer_id="ip-old")).signup_ip == ""
    assert customer_profile(customer=customer_get(customer_id="ip-young")).signup_ip == "198.51.100.5"
    assert customer_profile(customer=customer_get(customer_id="ip-old")).email == "ip-old@example.com"
    settings.B2B_IP_RETENTION_DAYS = 30
    assert tasks.signup_ips_expire() == 1


def test_expired_sessions_are_cleared_and_live_ones_kept():
    live, expired = SessionStore(), SessionStore()
    live["k"], expired["k"] = 1, 2
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - DAY)
    assert tasks.sessions_clear() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_pii_retention_runs_all_three_and_prints_one_line(capsys):
    registered("cmd-old", age=200 * DAY)
    call_command("pii_retention")
    assert capsys.readouterr().out == "pii_retention: gateway bodies 1, signup ips 1, sessions 0\n"


def test_each_retention_task_is_scheduled_nightly():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"backoffice.tasks.outbox_payloads_expire", "backoffice.tasks.signup_ips_expire",
            "backoffice.tasks.sessions_clear"} <= scheduled
