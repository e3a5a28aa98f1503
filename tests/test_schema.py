"""Our generated OpenAPI schema covers the contract: every path, method, required field and
documented status code of ../shared/contract/b2b-client-external-balance-openapi.yaml."""

from pathlib import Path

import pytest
import yaml
from django.test import Client

CONTRACT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "contract"
CONTRACTS = [CONTRACT_DIR / "b2b-client-external-balance-openapi.yaml",
             CONTRACT_DIR / "margin-draft" / "b2b-client-external-balance-openapi.yaml"]


@pytest.fixture(scope="module")
def ours():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


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
