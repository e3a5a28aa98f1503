"""The right of access: `manage.py customer_export CUSTOMER_ID` prints one JSON document with
everything we hold about the customer — profile, login, balances with every entry, requests,
the audit records about them and the gateway calls made for them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_reject, adjustment_request
from balances.models import LedgerEntry
from balances.services import balance_open
from customers.services import customer_create
from quadcode.models import GatewayCall
from quadcode.services import customer_block_propagated
from tests.backoffice.conftest import staff_member
from tests.backoffice.test_erasure import NEW_EMAIL, PERSONAL, SIGNUP_IP, emptied
from tests.backoffice.test_erasure import zelda as zelda  # noqa: F401  (the fixture)
from tests.conftest import body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def export(capsys, customer_id: str) -> dict:
    capsys.readouterr()
    call_command("customer_export", customer_id)
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def history(zelda, quadcode, django_user_model):  # noqa: F811
    """Zelda's money and the staff's dealings with her, plus someone else's that must not show."""
    balance_open(customer_id="zq-1", balance_id="zq-1_EUR", currency="EUR", type="demo", amount=Decimal("50"))
    assert quadcode.debit("zq-1", "zq-1_USD", body("30.00")).status_code == 201
    assert quadcode.credit("zq-1", "zq-1_USD", body("12.50")).status_code == 201
    clerk = Actor.staff(staff_member(django_user_model, "clerk", "balances.adjust_balance"))
    approver = Actor.staff(staff_member(django_user_model, "approver", "balances.approve_adjustment"))
    wd = adjustment_request(balance_id="zq-1_USD", kind="withdrawal", amount=Decimal("20.00"), reason="payout",
                            key="wd-1", actor=clerk)
    adjustment_reject(request_id=wd.request_id, actor=approver, reason="wrong account")
    customer_create(customer_id="other-1", email="other@example.com", country_code="FR")
    customer_block_propagated(customer_id="other-1", actor=clerk, reason="not hers")
    return wd


def test_the_export_holds_everything_the_fixture_put_in(history, capsys):
    document = export(capsys, "zq-1")
    assert document["format"] == "b2b-customer-export/1"
    assert document["customer"]["customer_id"] == "zq-1" and document["customer"]["erased_at"] is None
    assert document["profile"] == {**{k: str(v) if k == "date_of_birth" else v for k, v in PERSONAL.items()},
                                   "email": NEW_EMAIL, "signup_ip": SIGNUP_IP}
    assert document["login"]["username"] == "u-zq1" and document["login"]["second_factor_devices"] == ["phone"]

    balances = {b["balance_id"]: b for b in document["balances"]}
    assert set(balances) == {"zq-1_USD", "zq-1_EUR"}
    for balance_id, exported in balances.items():
        stored = LedgerEntry.objects.filter(balance__balance_id=balance_id).order_by("id")
        assert [e["id"] for e in exported["entries"]] == [e.pk for e in stored]
        assert [e["balance_after"] for e in exported["entries"]] == [f"{e.balance_after:.2f}" for e in stored]
    assert balances["zq-1_USD"]["amount"] == "82.50"
    assert [e["kind"] for e in balances["zq-1_USD"]["entries"]] == ["deposit", "debit", "credit", "hold", "release"]

    assert [(r["id"], r["state"], r["decision_reason"]) for r in document["requests"]] == [
        (history.request_id, "rejected", "wrong account")]
    mine = AuditEvent.objects.filter(target__in=["customer:zq-1", f"request:{history.request_id}"])
    assert sorted(e["id"] for e in document["audit"]) == sorted(mine.values_list("pk", flat=True))
    changed = next(e for e in document["audit"] if e["action"] == "customer_changed")
    assert changed["details"]["sealed"] == {"email": {"before": PERSONAL["email"], "after": NEW_EMAIL}}
    [call] = document["gateway_calls"]
    assert call["kind"] == "create_customer" and call["payload"]["sealed"]["ip"] == SIGNUP_IP
    assert [c.pk for c in GatewayCall.objects.filter(customer_id="zq-1")] == [call["id"]]
    assert "other-1" not in json.dumps(document) and "not hers" not in json.dumps(document)


def test_after_erasure_the_export_says_erased_and_keeps_the_money(zelda, quadcode, capsys):  # noqa: F811
    emptied(quadcode, zelda)
    call_command("customer_erase", "zq-1", "--reason", "asked to be forgotten")
    document = export(capsys, "zq-1")
    assert document["profile"] == {"erased": True}
    assert document["customer"]["erased_at"] is not None and document["customer"]["is_blocked"]
    assert [e["kind"] for e in document["balances"][0]["entries"]] == ["deposit", "debit"]
    changed = next(e for e in document["audit"] if e["action"] == "customer_changed")
    assert changed["details"]["sealed"] == "erased"
    assert "zelda" not in json.dumps(document).lower()
    assert AdjustmentRequest.objects.count() == 0


def test_an_unknown_customer_is_a_one_line_refusal(db):
    with pytest.raises(CommandError, match="customer_not_found"):
        call_command("customer_export", "nobody")
