"""Forgetting a customer: `manage.py customer_erase CUSTOMER_ID --reason TEXT [--by USERNAME]`.

Refused while a balance of theirs holds money or a request of theirs is open (and then nothing
changes); otherwise their data key is destroyed, so every copy of their personal data — the
profile, the gateway calls' bodies, the audit trail's before/after — is unreadable, while the
ledger stays whole and verifies. They are blocked here and at the gateway, their login is freed,
and the erasure is in the audit trail. A `pg_dump` shows none of their personal data, before
or after."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.services import adjustment_request
from balances.services import balance_open
from balances.verify import ledger_verify
from customers import pii
from customers.models import DataKey
from customers.selectors import customer_get, customer_profile, personal_unseal
from customers.services import AUDIT_CHANGES, customer_create, customer_update
from quadcode.models import GatewayCall
from quadcode.outbox import CREATE_CUSTOMER_BODY
from quadcode.services import customer_register
from tests.backoffice.conftest import actions, everything, staff_member
from tests.conftest import body, ledger_snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]

PERSONAL = {"email": "zelda.quark@example.org", "first_name": "Zelda", "middle_name": "Ysolde",
            "last_name": "Quarkwood", "phone_number": "+49 151 7654321", "account_timezone": "Pacific/Chatham",
            "date_of_birth": dt.date(1987, 6, 5)}
SIGNUP_IP = "198.51.100.77"
NEW_EMAIL = "zq.renamed@example.org"
# What must never be found in the clear in the database (the edited-away email included).
NEEDLES = ["zelda.quark", "Zelda", "Ysolde", "Quarkwood", "7654321", "Pacific/Chatham", "1987-06-05", SIGNUP_IP,
           "zq.renamed"]


@pytest.fixture
def zelda(simulator):
    """A customer registered with the gateway (the outbox keeps its body), with a login and a
    second factor, an edited profile (the audit trail keeps before/after) and a USD balance."""
    customer = customer_register(customer_id="zq-1", country_code="DE", username="u-zq1", password="pw-zq1-2026!",
                                 signup_ip=SIGNUP_IP, **PERSONAL)
    customer_update(customer_id="zq-1", actor=Actor.system(), changes={"email": NEW_EMAIL})
    TOTPDevice.objects.create(user=customer.user, name="phone", confirmed=True)
    balance_open(customer_id="zq-1", balance_id="zq-1_USD", currency="USD", amount=Decimal("100.00"))
    assert [call["name"] for call in simulator.calls()] == ["customers"]
    return customer_get(customer_id="zq-1")


@pytest.fixture
def eraser(django_user_model):
    return staff_member(django_user_model, "eraser", "customers.erase_customer")


def pg_dump() -> str:
    db = connection.settings_dict
    return subprocess.run(["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U",
                           db["USER"], "--data-only", db["NAME"]], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def in_the_clear(dump: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in dump]


def emptied(quadcode, customer):
    response = quadcode.debit(customer.customer_id, "zq-1_USD", body("100.00"))
    assert response.status_code == 201, response.content


def test_a_database_dump_holds_no_personal_data_before_or_after_erasure(zelda, quadcode, eraser):
    before = pg_dump()
    assert "zq-1" in before  # the dump does hold the customer
    assert in_the_clear(before) == []
    emptied(quadcode, zelda)
    call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten", "--by", "eraser")
    after = pg_dump()
    assert in_the_clear(after) == []
    # The copies made before are still there, sealed, and open no more: their key is gone.
    event = AuditEvent.objects.get(action="customer_changed", target="customer:zq-1")
    assert event.details["sealed"] in before and event.details["sealed"] in after
    zelda.data_key.refresh_from_db()
    assert zelda.data_key.wrapped is None and zelda.data_key.destroyed_at is not None
    with pytest.raises(pii.PersonalDataUnavailable):
        personal_unseal(customer=customer_get(customer_id="zq-1"), purpose=AUDIT_CHANGES,
                        token=event.details["sealed"])


def test_before_erasure_every_sealed_copy_opens_with_the_customers_key(zelda):
    profile = customer_profile(customer=zelda)
    assert (profile.email, profile.last_name, profile.signup_ip) == (NEW_EMAIL, "Quarkwood", SIGNUP_IP)
    event = AuditEvent.objects.get(action="customer_changed", target="customer:zq-1")
    assert personal_unseal(customer=zelda, purpose=AUDIT_CHANGES, token=event.details["sealed"]) == {
        "email": {"before": PERSONAL["email"], "after": NEW_EMAIL}}
    call = GatewayCall.objects.get(kind="create_customer", customer_id="zq-1")
    assert personal_unseal(customer=zelda, purpose=CREATE_CUSTOMER_BODY, token=call.payload["sealed"])["ip"] == \
        SIGNUP_IP


def test_erasure_is_refused_while_money_is_left_and_nothing_changes(zelda, eraser):
    snapshot, keys = everything(), list(DataKey.objects.values_list("key_id", "wrapped"))
    with pytest.raises(CommandError, match=r"erasure_refused: .*balance zq-1_USD holds 100.00 USD"):
        call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten", "--by", "eraser")
    assert everything() == snapshot
    assert list(DataKey.objects.values_list("key_id", "wrapped")) == keys
    customer = customer_get(customer_id="zq-1")
    assert not customer.is_blocked and customer_profile(customer=customer).email == NEW_EMAIL
    assert not GatewayCall.objects.filter(kind="block").exists()


def test_erasure_is_refused_while_a_request_holds_money(zelda, quadcode, eraser, django_user_model):
    clerk = Actor.staff(staff_member(django_user_model, "clerk", "balances.adjust_balance"))
    pending = adjustment_request(balance_id="zq-1_USD", kind="withdrawal", amount=Decimal("100.00"),
                                 reason="payout before closing", key="wd-zq", actor=clerk)
    assert pending.state == "pending"  # it holds the 100.00: the balance shows 0.00
    snapshot = everything()
    with pytest.raises(CommandError, match=rf"100.00 USD held for a request; request {pending.request_id} is still "
                                           r"open"):
        call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten", "--by", "eraser")
    assert everything() == snapshot


def test_erasure_keeps_the_ledger_whole_blocks_the_customer_and_frees_the_login(zelda, quadcode, eraser, simulator,
                                                                                capsys):
    emptied(quadcode, zelda)
    ledger = ledger_snapshot()
    user_id = zelda.user_id
    call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten (ticket 4411)", "--by", "eraser")
    assert capsys.readouterr().out == "customer zq-1 erased\n"

    assert ledger_snapshot() == ledger  # balances, operations and entries as they were
    assert ledger_verify() == []
    call_command("ledger_verify")  # exits 0
    # contract: 451 "The customer may not use the service (blocked)."
    response = quadcode.get_balance("zq-1", "zq-1_USD")
    assert (response.status_code, response.json()["error"]) == (451, "customer_blocked")
    assert simulator.state_of_customer_blocked("zq-1")  # told at the gateway too

    customer = customer_get(customer_id="zq-1")
    assert customer.erased_at is not None and customer.is_blocked
    assert customer_profile(customer=customer).erased
    assert (customer.personal, customer.signup_ip, customer.email_hash) == ("", "", "")
    assert GatewayCall.objects.get(kind="create_customer").payload == {}
    # The login cannot be used, and its name is free for someone else.
    assert authenticate(username="u-zq1", password="pw-zq1-2026!") is None
    assert not TOTPDevice.objects.filter(user_id=user_id).exists()
    customer_create(customer_id="zq-2", email="someone@example.com", country_code="DE", username="u-zq1",
                    password="pw-other-2026!")

    [erased] = AuditEvent.objects.filter(action="customer_erased")
    assert (erased.actor, erased.target) == ("eraser", "customer:zq-1")
    assert erased.details == {"reason": "asked to be forgotten (ticket 4411)", "balances": ["zq-1_USD"],
                              "login_freed": True}
    assert actions("customer:zq-1")[-2:] == ["customer_blocked", "customer_erased"]

    # Quadcode's credit of a position closed after all still settles: the ledger never refuses one.
    assert quadcode.credit("zq-1", "zq-1_USD", body("5.00")).status_code == 201


def test_a_repeated_erasure_changes_nothing(zelda, quadcode, eraser, capsys):
    emptied(quadcode, zelda)
    call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten", "--by", "eraser")
    snapshot = everything()
    call_command("customer_erase", "zq-1", "--reason", "asked again", "--by", "eraser")
    assert capsys.readouterr().out.splitlines()[-1] == "customer zq-1 erased (already)"
    assert everything() == snapshot


@pytest.mark.parametrize("args,reason", [
    (["zq-1", "--reason", "  "], "needs a reason"),
    (["zq-1", "--reason", "x", "--by", "nobody"], "is not an active staff member"),
    (["zq-1", "--reason", "x", "--by", "clerk"], "does not hold the permission customers.erase_customer"),
    (["no-such", "--reason", "x"], "customer_not_found"),
])
def test_a_bad_erasure_is_refused_and_changes_nothing(zelda, quadcode, django_user_model, args, reason):
    staff_member(django_user_model, "clerk", "balances.adjust_balance")
    emptied(quadcode, zelda)
    snapshot = everything()
    with pytest.raises(CommandError, match=reason):
        call_command("customer_erase", *args)
    assert everything() == snapshot
    assert customer_get(customer_id="zq-1").erased_at is None


def test_a_pre_registration_not_yet_sent_is_dropped_not_sent(simulator, quadcode):
    simulator.fault("customers", 503, times=10)  # the gateway is down: the call waits in the outbox
    customer_register(customer_id="zq-3", country_code="DE", signup_ip=SIGNUP_IP, **PERSONAL)
    call = GatewayCall.objects.get(kind="create_customer", customer_id="zq-3")
    assert call.delivered_at is None
    call_command("customer_erase", "zq-3", "--reason", "asked to be forgotten")
    call.refresh_from_db()
    assert (call.payload, call.last_error) == ({}, "customer erased before delivery")
    assert call.delivered_at is not None
    from quadcode.outbox import gateway_call_deliver

    simulator.reset()
    assert gateway_call_deliver(call_id=call.pk).delivered  # nothing left to send
    assert [c["name"] for c in simulator.calls()] == []
