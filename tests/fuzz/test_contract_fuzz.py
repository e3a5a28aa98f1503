"""Schemathesis against a running server, from our contract file (contract/balance-api.yaml),
with valid tokens and real balances: no server error, every response conforming to the
contract, the ledger verifying."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audit.actors import Actor
from balances.services import balance_open
from balances.verify import ledger_verify
from customers.services import customer_create
from tests.fuzz import report

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "balance-api.yaml"
schema = schemathesis.openapi.from_path(CONTRACT)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def balances(db):
    """A funded balance (and one of a blocked customer) that a share of the cases aim at."""
    made = []
    for customer_id, blocked in (("fuzz-open", False), ("fuzz-blocked", True)):
        customer_create(customer_id=customer_id, email="f@example.com", country_code="DE")
        balance_open(customer_id=customer_id, balance_id=f"{customer_id}_USD", currency="USD",
                     amount=Decimal("1000000"))
        if blocked:
            from customers.services import customer_block

            customer_block(actor=Actor.system(), customer_id=customer_id)
        made.append((customer_id, f"{customer_id}_USD"))
    return made


def _aim(case, balances) -> None:
    """Point some cases at real balances and plausible amounts, so that the success, 402 and 451
    paths are fuzzed too, not only 404 and 400."""
    seed = int(hashlib.sha256(repr((case.path_parameters, case.body)).encode()).hexdigest(), 16)
    if seed % 3:
        customer_id, balance_id = balances[seed % 2] if seed % 5 else balances[0]
        case.path_parameters = {"customer_id": customer_id, "balance_id": balance_id}
        if isinstance(case.body, dict) and seed % 7 < 4:
            case.body["amount"] = ["1.00", "999999999", "0.01", "12.345"][seed % 4]
            case.body["currency_code"] = "USD"
            if seed % 11 < 8:
                case.body["request_id"] = f"fz-{seed % 10**12}"
                case.body["comment"] = str(case.body.get("comment", ""))[:100].replace("\x00", "")


@schema.parametrize()
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_contract_holds_under_generated_requests(case, live_server, mint, balances):
    _aim(case, balances)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {mint()}"}
    response = case.call(base_url=live_server.url)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance])
    documented = case.method.upper() == case.operation.method.upper()
    suite = f"contract fuzz {case.method} {case.path}" if documented else "contract fuzz, undocumented methods"
    report.count(suite, response.status_code)
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "message"}
    assert ledger_verify() == []
