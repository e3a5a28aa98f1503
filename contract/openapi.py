"""Reading our contract files: load one, follow its `$ref`s, find a body's schema."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def load(name: str | Path) -> dict:
    """A contract file by its name in this folder (`"margin-draft/gateway-api.yaml"`) or by path."""
    path = Path(name)
    return yaml.safe_load((path if path.is_absolute() or path.exists() else HERE / path).read_text())


def resolve(spec: dict, node):
    """`node` with its `$ref`s followed, within `spec`."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def request_schema(spec: dict, path: str, method: str) -> dict:
    """The JSON request body schema of one operation ({} when it takes none)."""
    body = resolve(spec, spec["paths"][path][method].get("requestBody", {}))
    return resolve(spec, body.get("content", {}).get("application/json", {}).get("schema", {})) or {}
