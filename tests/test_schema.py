"""Our generated OpenAPI schema covers the contract: every path, method, required field and
documented status code of contract/balance-api.yaml and of its margin draft."""

from pathlib import Path

import pytest
import yaml
from django.test import Client

from contract.openapi import resolve

CONTRACT_DIR = Path(__file__).resolve().parents[1] / "contract"
CONTRACTS = [CONTRACT_DIR / "balance-api.yaml", CONTRACT_DIR / "margin-draft" / "balance-api.yaml"]


@pytest.fixture(scope="module")
def ours():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def body_schema(spec, operation, kind):
    if kind == "request":
        content = operation.get("requestBody", {}).get("content", {})
    else:
        success = next(code for code in operation["responses"] if str(code).startswith("2"))
        content = resolve(spec, operation["responses"][success]).get("content", {})
    return resolve(spec, content.get("application/json", {}).get("schema", {}))


def contract_operations(contract):
    for path, item in contract["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


@pytest.mark.parametrize("contract_file", CONTRACTS, ids=["contract", "margin-draft"])
def test_every_contract_operation_is_served_with_its_fields_and_statuses(ours, contract_file):
    contract = yaml.safe_load(contract_file.read_text())
    checked = 0
    for path, method, operation in contract_operations(contract):
        assert path in ours["paths"], f"{path} missing from our schema"
        mine = ours["paths"][path].get(method)
        assert mine is not None, f"{method.upper()} {path} missing"
        for status in operation["responses"]:
            assert str(status) in {str(s) for s in mine["responses"]}, f"{method.upper()} {path}: no {status}"
        for kind in ("request", "response"):
            theirs, our = body_schema(contract, operation, kind), body_schema(ours, mine, kind)
            for field in theirs.get("required", []):
                assert field in our.get("properties", {}), f"{method.upper()} {path} {kind}: no {field}"
                assert field in our.get("required", []), f"{method.upper()} {path} {kind}: {field} not required"
            for field in theirs.get("properties", {}):
                assert field in our.get("properties", {}), f"{method.upper()} {path} {kind}: no {field}"
        checked += 1
    assert checked == 3


def test_the_schema_ui_is_served(client):
    response = client.get("/api/schema/ui/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
