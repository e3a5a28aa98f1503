"""Webhooks against a real HTTP receiver that fails, stalls and recovers: every event arrives,
in sequence order after dedupe, signed so the receiver can check us; nothing is acknowledged
that the receiver did not answer 2xx in time."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from events.models import Event
from integrations import webhooks
from integrations.models import ApiKey
from integrations.signing import signature
from tests.conftest import body, ids
from tests.integrations.signed import new_key

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver on a real socket; `script` says how to answer each POST in turn
    ("ok", "fail" = 500, "stall" = answer 200 only after the sender gave up, "drop" = close)."""

    def __init__(self, script: list[str]):
        self.script, self.posts, self.lock = list(script), [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    mode = receiver.script.pop(0) if receiver.script else "ok"
                    receiver.posts.append((mode, dict(self.headers), raw))
                if mode == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "stall":
                    time.sleep(1.5)
                self.send_response(500 if mode == "fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def _make(script):
        made.append(Receiver(script))
        return made[-1]

    yield _make
    for receiver in made:
        receiver.close()


@pytest.fixture
def fast(settings, monkeypatch):
    settings.B2B_WEBHOOK_TIMEOUT = 0.5
    settings.B2B_WEBHOOK_BATCH = 3
    monkeypatch.setattr(webhooks, "backoff", lambda failures: dt.timedelta(0))


def test_through_failures_stalls_and_drops_every_event_arrives_in_order(fast, receiver_factory, make_balance,
                                                                        quadcode):
    receiver = receiver_factory(["fail", "ok", "stall", "drop", "ok", "fail", "fail", "ok"])
    key_id, secret = new_key("reader", webhook_url=receiver.url)
    for _ in range(3):
        balance = make_balance("10.00")
        quadcode.debit(*ids(balance), body("1.00"))
        quadcode.credit(*ids(balance), body("2.00"))
    for _ in range(30):
        webhooks.webhooks_deliver()
        numbered = Event.objects.filter(sequence__isnull=False).order_by("sequence")
        if ApiKey.objects.get(key_id=key_id).webhook_delivered == numbered.last().sequence:
            break
    expected = list(numbered.values_list("sequence", flat=True))
    assert len(expected) == 9
    received, modes = [], []
    for mode, headers, raw in receiver.posts:
        modes.append(mode)
        assert headers["X-Api-Key"] == key_id
        assert headers["X-Signature"] == signature(secret=secret, key_id=key_id, timestamp=headers["X-Timestamp"],
                                                   nonce=headers["X-Nonce"], payload=raw)
        if mode != "drop":
            received += [event["sequence"] for event in json.loads(raw)["events"]]
    assert modes[:8] == ["fail", "ok", "stall", "drop", "ok", "fail", "fail", "ok"]
    deduped = list(dict.fromkeys(received))
    assert deduped == expected  # all of them, in order, once each after dedupe
    assert len(received) > len(deduped)  # and some twice: at least once, not exactly once
    key = ApiKey.objects.get(key_id=key_id)
    assert key.webhook_delivered == expected[-1] and key.webhook_failures == 0 and key.webhook_retry_at is None


def test_a_failing_receiver_is_retried_with_growing_backoff_and_nothing_acknowledged(settings, receiver_factory,
                                                                                    make_balance):
    settings.B2B_WEBHOOK_TIMEOUT = 0.5
    receiver = receiver_factory(["fail"] * 10)
    key_id, _ = new_key("reader", webhook_url=receiver.url)
    make_balance("10.00")
    waits = []
    for _ in range(3):
        ApiKey.objects.filter(key_id=key_id).update(webhook_retry_at=None)  # the backoff waited out
        before = timezone.now()
        webhooks.webhooks_deliver()
        key = ApiKey.objects.get(key_id=key_id)
        waits.append(round((key.webhook_retry_at - before).total_seconds()))
        assert key.webhook_delivered == 0 and key.webhook_last_error == "HTTP 500"
    assert waits == [1, 2, 4] and key.webhook_failures == 3
    # Not due yet: nothing is sent.
    posts = len(receiver.posts)
    webhooks.webhooks_deliver()
    assert len(receiver.posts) == posts


def test_a_revoked_key_gets_nothing_more(fast, receiver_factory, make_balance):
    receiver = receiver_factory([])
    key_id, _ = new_key("reader", webhook_url=receiver.url)
    make_balance("10.00")
    webhooks.webhooks_deliver()
    assert len(receiver.posts) == 1
    ApiKey.objects.filter(key_id=key_id).update(revoked_at=timezone.now())
    make_balance("10.00")
    webhooks.webhooks_deliver()
    assert len(receiver.posts) == 1


def test_two_workers_never_send_one_keys_batch_at_once(fast, receiver_factory, make_balance):
    receiver = receiver_factory(["stall"])
    key_id, _ = new_key("reader", webhook_url=receiver.url)
    make_balance("10.00")
    key = ApiKey.objects.get(key_id=key_id)
    assert webhooks._lease(key, timezone.now())
    assert not webhooks._lease(key, timezone.now())  # the same snapshot: someone has it
