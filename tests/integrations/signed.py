"""A caller of the back-office API that signs as the README says (integrations.signing), through
Django's test client; every part of a request can be bent to test a refusal."""

from __future__ import annotations

import json
import secrets
import time

from audit.actors import Actor
from integrations.services import api_key_create
from integrations.signing import signature


class SignedClient:
    def __init__(self, client, key_id: str, secret: str, *, remote: str = "127.0.0.1"):
        self.client, self.key_id, self.secret, self.remote = client, key_id, secret, remote

    def headers(self, payload: bytes, *, timestamp: str | None = None, nonce: str | None = None,
                key_id: str | None = None, secret: str | None = None) -> dict:
        timestamp = timestamp or str(int(time.time() * 1000))
        nonce = nonce or secrets.token_hex(16)
        key_id = key_id or self.key_id
        return {"X-Api-Key": key_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
                "X-Signature": signature(secret=secret or self.secret, key_id=key_id, timestamp=timestamp,
                                         nonce=nonce, payload=payload)}

    def send(self, method: str, path: str, raw: bytes, headers: dict, *, query: str = ""):
        url = f"/backoffice/v1/{path}" + (f"?{query}" if query else "")
        data = b"" if method in ("GET", "DELETE") else raw
        return self.client.generic(method, url, data=data, content_type="application/json", headers=headers,
                                   REMOTE_ADDR=self.remote)

    def call(self, method: str, path: str, data: dict | None = None, *, query: str = "", extra: dict | None = None,
             **bend):
        raw = query.encode() if method in ("GET", "DELETE") else json.dumps(data or {}).encode()
        headers = {**self.headers(raw, **bend), **(extra or {})}
        return self.send(method, path, raw, headers, query=query)

    def get(self, path: str, query: str = "", **kw):
        return self.call("GET", path, query=query, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.call("POST", path, data, **kw)


def new_key(role: str, **kw) -> tuple[str, str]:
    created = api_key_create(name=f"test-{role}", role=role, actor=Actor.cli(), **kw)
    return created.key.key_id, created.secret
