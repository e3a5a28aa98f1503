"""The back-office API served for real (granian, a process of its own): the README's signing
recipes run as written, a nonce used on one process is refused by another, and a key's feed
token opens the live feed to every event."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from audit.actors import Actor
from integrations.services import api_key_revoke
from tests.conftest import TEST_REDIS_URL, needs_redis
from tests.integrations.feed_server import feed_served
from tests.integrations.signed import SignedClient, new_key
from tests.integrations.test_feed import AUTHENTICATED, answer, hello

pytestmark = pytest.mark.django_db(transaction=True)
README = Path(__file__).resolve().parents[2] / "README.md"


def recipe(tag: str) -> str:
    """The code block that follows `<!-- recipe:TAG -->` in the README, verbatim."""
    match = re.search(rf"<!-- recipe:{tag} -->\n```\w+\n(.*?)\n```", README.read_text(), re.S)
    assert match, f"the README has no {tag} recipe"
    return match.group(1)


@pytest.fixture
def served(key_dir, tmp_path):
    with feed_served(key_dir, tmp_path / "server.log", REDIS_URL=TEST_REDIS_URL) as (ws_url, http_url):
        yield ws_url, http_url


@needs_redis
def test_the_readme_python_client_works_as_written(served, make_balance):
    _, base = served
    key, secret = new_key("operator")
    reader_key, reader_secret = new_key("reader")
    balance = make_balance("10.00")
    scope: dict = {}
    exec(recipe("python"), scope)  # noqa: S102 - the README's own code, run as a user would
    call = scope["call"]
    body = {"balance_id": balance.balance_id, "kind": "deposit", "amount": "50.00", "reason": "card payment 8812"}
    first = call("POST", "/backoffice/v1/requests", body, base=base, key=key, secret=secret,
                 idempotency_key="pay-8812")
    assert first["state"] == "posted"
    again = call("POST", "/backoffice/v1/requests", body, base=base, key=key, secret=secret,
                 idempotency_key="pay-8812")
    assert again == first
    read = call("GET", f"/backoffice/v1/balances/{balance.balance_id}", base=base, key=reader_key,
                secret=reader_secret)
    assert read["amount"] == "60.00"
    events = call("GET", "/backoffice/v1/events", query="after=0&limit=100", base=base, key=reader_key,
                  secret=reader_secret)
    assert any(e["type"] == "request.posted" for e in events["results"])


@needs_redis
def test_the_readme_curl_recipe_works_as_written(served, make_balance):
    _, base = served
    key, secret = new_key("reader")
    make_balance("10.00")
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe("sh")], capture_output=True, text=True,
                         env={**os.environ, "KEY": key, "SECRET": secret, "BASE": base}, timeout=30)
    assert out.returncode == 0, out.stderr
    page = json.loads(out.stdout)
    assert page["results"] and page["results"][0]["type"] == "ledger.entry"


@needs_redis
def test_a_nonce_used_on_another_process_is_refused_here(served, client, settings, make_balance):
    _, base = served
    settings.REDIS_URL = TEST_REDIS_URL
    key, secret = new_key("reader")
    caller = SignedClient(client, key, secret)
    headers = caller.headers(b"after=0")
    there = httpx.get(f"{base}/backoffice/v1/events?after=0", headers=headers, timeout=10)
    assert there.status_code == 200, there.text
    here = caller.send("GET", "events", b"", headers, query="after=0")
    assert here.status_code == 401 and "nonce" in here.json()["message"]
    fresh = caller.headers(b"after=0")
    here_first = caller.send("GET", "events", b"", fresh, query="after=0")
    assert here_first.status_code == 200
    there_again = httpx.get(f"{base}/backoffice/v1/events?after=0", headers=fresh, timeout=10)
    assert there_again.status_code == 401


@needs_redis
def test_a_keys_feed_token_watches_every_customer(served, client, settings, make_balance, quadcode):
    ws_url, base = served
    key, secret = new_key("reader")
    raw = b""
    headers = SignedClient(client, key, secret).headers(raw)
    minted = httpx.post(f"{base}/backoffice/v1/ws-token", content=raw, headers=headers, timeout=10)
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    first, second = make_balance("10.00"), make_balance("10.00")
    socket = hello(f"{ws_url}/ws/events", token, resume_from=0)
    try:
        assert answer(socket) == AUTHENTICATED
        customers = set()
        while len(customers) < 2:
            customers.add(answer(socket)["event"]["customer_id"])
        assert customers == {first.customer.customer_id, second.customer.customer_id}
    finally:
        socket.close()

    api_key_revoke(key_id=key, actor=Actor.cli())
    refused = httpx.post(f"{base}/backoffice/v1/ws-token", content=raw,
                            headers=SignedClient(client, key, secret).headers(raw), timeout=10)
    assert refused.status_code == 401
