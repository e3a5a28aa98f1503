"""create_customer with the sign-up address pre-registers the customer at the gateway, so that
their first visit to the trading room takes one round trip."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quadcode.models import GatewayCall

pytestmark = pytest.mark.django_db(transaction=True)


def names(simulator):
    return [call["name"] for call in simulator.calls()]


def test_a_pre_registered_customer_takes_one_round_trip(simulator, client):
    call_command("create_customer", "pre-1", "--email", "p@example.com", "--country", "FR", "--username", "pre1",
                 "--password", "pw-pre-2026!", "--first-name", "Pia", "--ip", "198.51.100.7")
    call_command("open_balance", "pre-1", "pre-1_USD", "USD", "--amount", "10")
    [registration] = simulator.calls()
    assert registration["name"] == "customers"
    assert registration["body"] == {"customer_id": "pre-1", "country_code": "FR", "ip": "198.51.100.7",
                                    "email": "p@example.com", "first_name": "Pia"}
    assert GatewayCall.objects.get().delivered_at is not None
    client.login(username="pre1", password="pw-pre-2026!")
    assert client.get("/traderoom/").status_code == 200
    assert names(simulator) == ["customers", "session"]


def test_409_already_there_counts_as_registered(simulator):
    call_command("create_customer", "pre-2", "--email", "p@example.com", "--country", "FR", "--ip", "198.51.100.7")
    GatewayCall.objects.update(delivered_at=None)
    from quadcode.outbox import gateway_call_deliver

    assert gateway_call_deliver(call_id=GatewayCall.objects.get().pk).delivered
    assert names(simulator) == ["customers", "customers"]


def test_without_an_address_nothing_is_sent_and_the_first_visit_registers(simulator):
    call_command("create_customer", "pre-3", "--email", "p@example.com", "--country", "FR")
    assert simulator.calls() == [] and not GatewayCall.objects.exists()


def test_a_refused_registration_is_recorded_not_retried(simulator):
    simulator.state(restricted_countries=["FR"])
    call_command("create_customer", "pre-4", "--email", "p@example.com", "--country", "FR", "--ip", "198.51.100.7")
    call = GatewayCall.objects.get()
    assert call.delivered_at is not None and call.last_error == "country restricted"


def test_a_bad_address_is_refused(db):
    with pytest.raises(CommandError, match="not an IP address"):
        call_command("create_customer", "pre-5", "--email", "p@example.com", "--country", "FR", "--ip", "1.2.3")
