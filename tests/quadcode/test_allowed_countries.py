"""The gateway's allowed-countries list, fetched periodically, spares a round trip for a
country it already refuses; a 451 from the session call is still handled."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from quadcode.models import AllowedCountry
from quadcode.tasks import allowed_countries_refresh


def names(simulator):
    return [call["name"] for call in simulator.calls()]


def test_the_refresh_stores_the_gateways_list(simulator, db):
    simulator.state(restricted_countries=["DE"])
    assert allowed_countries_refresh.delay().get() is True
    codes = set(AllowedCountry.objects.values_list("short_code", flat=True))
    assert "DE" not in codes and {"FR", "GB", "US"} <= codes
    assert AllowedCountry.objects.get(short_code="FR").iso_code == "FRA"


def test_a_known_refused_country_is_answered_without_calling_the_gateway(browser_client, simulator):
    simulator.state(restricted_countries=["DE"])  # the trader's profile country
    call_command("allowed_countries_refresh")
    before = len(simulator.calls())
    response = browser_client.get("/traderoom/")
    assert response.status_code == 200
    assert "Sorry. Your current country is not allowed access" in response.content.decode()
    assert simulator.calls()[before:] == []


def test_an_allowed_country_goes_on_to_the_session(browser_client, simulator):
    call_command("allowed_countries_refresh")
    assert browser_client.get("/traderoom/").status_code == 200
    assert names(simulator)[-1] == "session"


def test_a_451_is_still_handled_when_the_list_is_out_of_date(browser_client, simulator):
    call_command("allowed_countries_refresh")  # DE allowed at that time
    browser_client.get("/traderoom/")  # the customer exists at the gateway
    simulator.state(restricted_countries=["DE"])
    response = browser_client.get("/traderoom/")
    assert "Sorry. Your current country is not allowed access" in response.content.decode()
    assert names(simulator)[-1] == "session"


def test_a_stale_list_is_not_trusted(browser_client, simulator, settings):
    simulator.state(restricted_countries=["DE"])
    call_command("allowed_countries_refresh")
    AllowedCountry.objects.update(fetched_at=timezone.now() - dt.timedelta(days=2))
    simulator.state(restricted_countries=[])
    assert browser_client.get("/traderoom/").status_code == 200
    assert "<iframe" in browser_client.get("/traderoom/").content.decode()


def test_a_failed_refresh_keeps_the_stored_list(simulator, db):
    call_command("allowed_countries_refresh")
    stored = AllowedCountry.objects.count()
    simulator.fault("allowed-countries", 503)
    with pytest.raises(CommandError, match="unchanged"):
        call_command("allowed_countries_refresh")
    assert AllowedCountry.objects.count() == stored
