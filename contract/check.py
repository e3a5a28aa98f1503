"""Compare the facts of two OpenAPI files: ours in contract/ and an upstream copy of Quadcode's.

    python -m contract.check contract/balance-api.yaml UPSTREAM/b2b-client-external-balance-openapi.yaml

Facts are what a client or a server depends on: every path and method, the status codes, and
for each request and response body its fields, which of them are required, their types, formats
and enums. Wording (summaries, descriptions, examples) is not a fact. Prints each difference
and exits 1 when there is one, 0 when both files state the same facts.
"""

from __future__ import annotations

import re
import sys

from contract.openapi import load
from contract.openapi import resolve as _resolve

METHODS = ("get", "put", "post", "delete", "patch")


def _shape(spec: dict, schema, depth: int = 0) -> object:
    """A schema reduced to its facts: type, format, enum, required and fields (recursively)."""
    schema = _resolve(spec, schema) or {}
    if depth > 8:
        return "..."
    shape = {key: schema[key] for key in ("type", "format", "enum", "default") if key in schema}
    if "required" in schema:
        shape["required"] = sorted(schema["required"])
    if "properties" in schema:
        shape["properties"] = {name: _shape(spec, prop, depth + 1) for name, prop in schema["properties"].items()}
    if "items" in schema:
        shape["items"] = _shape(spec, schema["items"], depth + 1)
    return shape


def _body(spec: dict, holder) -> object:
    content = (_resolve(spec, holder) or {}).get("content", {})
    return {media: _shape(spec, value.get("schema")) for media, value in content.items()}


def facts(spec: dict) -> dict:
    """{"METHOD path": {...}} for every operation of an OpenAPI document."""
    result = {}
    for path, item in spec.get("paths", {}).items():
        shared = [_resolve(spec, p) for p in item.get("parameters", [])]
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            declared = shared + [_resolve(spec, p) for p in operation.get("parameters", [])]
            # Path parameters are facts of the path itself, declared or not.
            parameters = {("path", name, True) for name in re.findall(r"{([^}]+)}", path)}
            parameters |= {(p["in"], p["name"], bool(p.get("required"))) for p in declared if p["in"] != "path"}
            result[f"{method.upper()} {path}"] = {
                "parameters": sorted(parameters),
                "security": bool(operation.get("security", spec.get("security"))),
                "request": _body(spec, operation.get("requestBody")),
                "responses": {str(status): _body(spec, response)
                              for status, response in operation.get("responses", {}).items()},
            }
    return result


def differences(ours: dict, theirs: dict, where: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs), key=str):
            here = f"{where} / {key}" if where else str(key)
            if key not in ours:
                found.append(f"{here}: upstream has it, ours does not")
            elif key not in theirs:
                found.append(f"{here}: ours has it, upstream does not")
            else:
                found += differences(ours[key], theirs[key], here)
        return found
    return [] if ours == theirs else [f"{where}: ours {ours!r}, upstream {theirs!r}"]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ours, theirs = (facts(load(name)) for name in argv[1:])
    found = differences(ours, theirs)
    for line in found:
        print(line)
    print(f"{len(ours)} operations; {len(found)} difference(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
