"""The live feed, /ws/events, served for real (bin/serve-feed, granian's ASGI) on the test
database: the Peatio-style handshake word for word, a customer's own events pushed as Quadcode
moves their money, and a resume that misses nothing."""

from __future__ import annotations

import json
import threading
import time

import jwt
import pytest
from django.db import connection
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from events.models import Event
from events.services import events_sequence
from integrations.feed import tokens
from integrations.feed.tokens import feed_token_mint
from tests.conftest import body, ids
from tests.integrations.feed_server import feed_served

pytestmark = pytest.mark.django_db(transaction=True)

# The handshake as the Peatio WebSocket API words it (the issue quotes it).
AUTHENTICATED = {"success": {"message": "Authenticated."}}
AUTH_FAILED = {"error": {"message": "Authentication failed."}}
TYPE_INVALID = {"error": {"message": "Token type is not provided or invalid."}}


@pytest.fixture
def feed(key_dir, tmp_path):
    with feed_served(key_dir, tmp_path / "feed.log", B2B_FEED_AUTH_TIMEOUT="2") as (ws_url, _http):
        yield f"{ws_url}/ws/events"


def hello(url: str, token: str, **extra):
    socket = connect(url, open_timeout=10)
    socket.send(json.dumps({"jwt": f"Bearer {token}", **extra}))
    return socket


def answer(socket, timeout: float = 10.0) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def closed(socket, timeout: float = 5.0) -> bool:
    try:
        socket.recv(timeout=timeout)
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False
    return closed(socket, timeout)


def customer_token(customer_id: str) -> str:
    return feed_token_mint(kind="customer", subject=customer_id).token


def events_until(socket, count: int, timeout: float = 20.0) -> list[dict]:
    seen, deadline = [], time.monotonic() + timeout
    while len(seen) < count:
        message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert "event" in message, message
        seen.append(message["event"])
    return seen


def test_a_customer_token_is_answered_authenticated(feed, make_customer):
    customer = make_customer()
    with hello(feed, customer_token(customer.customer_id)) as socket:
        assert answer(socket) == AUTHENTICATED


@pytest.mark.parametrize("first", [
    {"jwt": "Token abc"},  # not a Bearer token
    {"jwt": "Bearer "},
    {"jwt": 42},
    {"token": "Bearer abc"},  # no jwt at all
    "not json",
])
def test_without_a_bearer_token_the_answer_is_token_type_invalid_and_the_connection_closes(feed, first):
    with connect(feed, open_timeout=10) as socket:
        socket.send(first if isinstance(first, str) else json.dumps(first))
        assert answer(socket) == TYPE_INVALID
        assert closed(socket)


def test_a_token_of_a_type_the_feed_does_not_know_is_token_type_invalid(feed, make_customer, settings):
    customer = make_customer()
    now = int(time.time())
    forged_type = jwt.encode({"iss": tokens.ISSUER, "typ": "staff", "sub": customer.customer_id, "iat": now,
                              "exp": now + 60}, tokens._keys()[0], algorithm="HS256")
    with hello(feed, forged_type) as socket:
        assert answer(socket) == TYPE_INVALID
        assert closed(socket)


def test_a_bad_expired_or_foreign_token_fails_authentication_and_the_connection_closes(feed, make_customer):
    customer = make_customer()
    now = int(time.time())
    claims = {"iss": tokens.ISSUER, "typ": "customer", "sub": customer.customer_id, "iat": now - 120,
              "exp": now - 60}
    expired = jwt.encode(claims, tokens._keys()[0], algorithm="HS256")
    foreign = jwt.encode({**claims, "exp": now + 60}, b"someone else's key, long enough for HS256", algorithm="HS256")
    good = customer_token(customer.customer_id)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for token in (expired, foreign, tampered, "not.a.jwt"):
        with hello(feed, token) as socket:
            assert answer(socket) == AUTH_FAILED, token
            assert closed(socket)


def test_an_erased_or_unknown_customer_fails_authentication(feed):
    with hello(feed, customer_token("nobody-here")) as socket:
        assert answer(socket) == AUTH_FAILED


def test_a_connection_that_does_not_authenticate_in_time_is_closed(feed):
    with connect(feed, open_timeout=10) as socket:
        assert answer(socket, timeout=10) == AUTH_FAILED
        assert closed(socket)


def test_a_customer_is_pushed_their_own_debits_as_they_commit_and_nothing_of_anyone_else(feed, make_balance, quadcode):
    mine, theirs = make_balance("100.00"), make_balance("100.00")
    events_sequence()  # the openings are numbered before this connection: not pushed to it
    with hello(feed, customer_token(mine.customer.customer_id)) as socket:
        assert answer(socket) == AUTHENTICATED
        assert quadcode.debit(*ids(theirs), body("7.00")).status_code == 201
        assert quadcode.debit(*ids(mine), body("10.00", request_id="r-mine-1")).status_code == 201
        [event] = events_until(socket, 1)
        assert event["type"] == "ledger.entry"
        assert (event["customer_id"], event["balance_id"]) == ids(mine)
        assert event["data"]["request_id"] == "r-mine-1"
        assert (event["data"]["amount"], event["data"]["balance_after"], event["data"]["currency"]) == \
            ("10.00", "90.00", "USD")
        assert isinstance(event["sequence"], int) and event["time"]
        with pytest.raises(TimeoutError):  # the other customer's debit never reaches this connection
            socket.recv(timeout=1.5)


def test_resume_from_replays_what_came_after_it(feed, make_balance, quadcode):
    balance = make_balance("100.00")
    for n in range(3):
        assert quadcode.debit(*ids(balance), body("1.00", request_id=f"before-{n}")).status_code == 201
    with hello(feed, customer_token(balance.customer.customer_id), resume_from=0) as socket:
        assert answer(socket) == AUTHENTICATED
        first = events_until(socket, 4)  # the opening deposit, then the three debits
        assert [e["data"]["request_id"] for e in first] == [f"open:{balance.balance_id}", "before-0", "before-1",
                                                            "before-2"]
        socket.send(json.dumps({"resume_from": first[1]["sequence"]}))
        assert [e["sequence"] for e in events_until(socket, 2)] == [e["sequence"] for e in first[2:]]
        socket.send(json.dumps({"resume_from": -1}))
        refused = "resume_from must be a sequence number (an integer, 0 or more)."
        assert answer(socket) == {"error": {"message": refused}}
        socket.send(json.dumps({"subscribe": "all"}))
        assert "error" in answer(socket)
        assert quadcode.debit(*ids(balance), body("1.00", request_id="after")).status_code == 201
        [event] = events_until(socket, 1)  # still connected, still pushed to
        assert event["data"]["request_id"] == "after"


def test_a_thousand_events_with_a_reconnect_in_the_middle_arrive_all_in_order(feed, make_balance, quadcode):
    balance = make_balance("10000.00")
    customer_id, balance_id = ids(balance)
    total = 1000
    failures = []

    def trade():
        try:
            for n in range(total // 2):  # a debit and its credit: two entries, two events each round
                request_id = f"round-{n}"
                if quadcode.debit(customer_id, balance_id, body("1.00", request_id=request_id)).status_code != 201:
                    failures.append(request_id)
                if quadcode.credit(customer_id, balance_id, body("1.00", request_id=f"{request_id}-won")).status_code \
                        != 201:
                    failures.append(f"{request_id}-won")
        finally:
            connection.close()

    producer = threading.Thread(target=trade)
    seen: dict[int, dict] = {}
    with hello(feed, customer_token(customer_id), resume_from=0) as socket:
        assert answer(socket) == AUTHENTICATED
        producer.start()
        for event in events_until(socket, 300, timeout=60):
            seen[event["sequence"]] = event
    last = max(seen)  # dropped mid-stream; a new connection resumes from the last one seen
    with hello(feed, customer_token(customer_id), resume_from=last - 50) as socket:  # overlapping on purpose
        assert answer(socket) == AUTHENTICATED
        producer.join(timeout=120)
        assert not failures
        while len(seen) < total + 1:  # and the opening deposit
            event = events_until(socket, 1, timeout=30)[0]
            assert event["sequence"] > last - 50
            seen[event["sequence"]] = event
    logged = list(Event.objects.filter(customer_id=customer_id).order_by("sequence").values_list("sequence", flat=True))
    assert len(logged) == total + 1
    assert sorted(seen) == logged  # none missing, none invented
    request_ids = [seen[s]["data"]["request_id"] for s in sorted(seen)]
    # the order they committed in
    assert request_ids[:5] == [f"open:{balance_id}", "round-0", "round-0-won", "round-1", "round-1-won"]
    assert len(set(request_ids)) == total + 1
