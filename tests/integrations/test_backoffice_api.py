"""The signed back-office API: every refusal of the signature scheme changes nothing; money moves
by the staff's rules with the key as the actor; lists page by cursor; the event log reads in
commit order."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from balances.models import Balance
from customers.models import Customer
from events.models import Event
from integrations.models import ApiKey
from integrations.services import api_key_revoke
from tests.conftest import TEST_REDIS_URL, ledger_snapshot, needs_redis, run_parallel
from tests.integrations.signed import SignedClient

pytestmark = pytest.mark.django_db


def everything() -> tuple:
    return (ledger_snapshot(), AdjustmentRequest.objects.count(), Customer.objects.count(),
            AuditEvent.objects.count(), Event.objects.count())


def deposit(balance: Balance, amount: str = "25.00", reason: str = "card payment") -> dict:
    return {"balance_id": balance.balance_id, "kind": "deposit", "amount": amount, "reason": reason}


def error(response) -> str:
    return response.json()["error"]


# --- reading ------------------------------------------------------------------------------------

def test_a_signed_reader_reads_a_balance_with_what_is_held(signed, make_balance):
    balance = make_balance("100.00")
    operator, approver = signed("operator"), signed("approver")
    pending = operator.post("requests", {**deposit(balance, "30.00"), "kind": "withdrawal"},
                            extra={"Idempotency-Key": "w1"})
    assert pending.status_code == 201 and pending.json()["state"] == "pending"
    answer = signed("reader").get(f"balances/{balance.balance_id}")
    assert answer.status_code == 200
    assert answer.json() | {"created_at": None} == {
        "balance_id": balance.balance_id, "customer_id": balance.customer.customer_id, "currency_code": "USD",
        "type": "real", "amount": "100.00", "held": "30.00", "available": "70.00", "created_at": None}
    assert approver.get("balances/no-such-balance").status_code == 404


# --- refusals -----------------------------------------------------------------------------------

def _bent(reader: SignedClient, how: str):
    now = int(time.time() * 1000)
    raw = b""
    if how == "no signature":
        headers = reader.headers(raw)
        del headers["X-Signature"]
        return reader.send("GET", "events", raw, headers)
    if how == "unknown key":
        return reader.get("events", key_id="bk_00000000000000000000")
    if how == "wrong secret":
        return reader.get("events", secret="not-the-secret")
    if how == "stale timestamp":
        return reader.get("events", timestamp=str(now - 31_000))
    if how == "future timestamp":
        return reader.get("events", timestamp=str(now + 31_000))
    if how == "timestamp in seconds":
        return reader.get("events", timestamp=str(now // 1000))
    if how == "short nonce":
        return reader.get("events", nonce="0123456789abcde")
    if how == "query changed after signing":
        headers = reader.headers(b"after=0")
        return reader.send("GET", "events", b"", headers, query="after=5")
    if how == "uppercase is fine":
        headers = reader.headers(raw)
        headers["X-Signature"] = headers["X-Signature"].upper()
        return reader.send("GET", "events", raw, headers)
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["no signature", "unknown key", "wrong secret", "stale timestamp", "future timestamp",
                                 "timestamp in seconds", "short nonce", "query changed after signing"])
def test_what_is_not_signed_by_a_live_key_is_401(signed, how):
    answer = _bent(signed("reader"), how)
    assert answer.status_code == 401, answer.content
    assert error(answer) == "unauthorized" and answer.json()["message"]


def test_the_signature_is_compared_case_insensitively(signed):
    assert _bent(signed("reader"), "uppercase is fine").status_code == 200


def test_a_body_changed_after_signing_is_401_and_moves_nothing(signed, make_balance):
    operator = signed("operator")
    balance = make_balance("10.00")
    signed_body = json.dumps(deposit(balance, "1.00")).encode()
    sent_body = json.dumps(deposit(balance, "900.00")).encode()
    before = everything()
    answer = operator.send("POST", "requests", sent_body,
                           {**operator.headers(signed_body), "Idempotency-Key": "k1"})
    assert answer.status_code == 401 and error(answer) == "unauthorized"
    assert everything() == before


def test_a_replayed_request_is_401_and_applied_once(signed, make_balance):
    operator = signed("operator")
    balance = make_balance("10.00")
    raw = json.dumps(deposit(balance, "5.00")).encode()
    headers = {**operator.headers(raw), "Idempotency-Key": "once"}
    first = operator.send("POST", "requests", raw, headers)
    assert first.status_code == 201 and first.json()["state"] == "posted"
    after_first = everything()
    again = operator.send("POST", "requests", raw, headers)
    assert again.status_code == 401 and "nonce" in again.json()["message"]
    assert everything() == after_first
    balance.refresh_from_db()
    assert balance.amount == Decimal("15.00")


def test_a_revoked_key_is_refused_from_its_next_request(signed):
    reader = signed("reader")
    assert reader.get("events").status_code == 200
    assert api_key_revoke(key_id=reader.key_id, actor=Actor.cli())
    answer = reader.get("events")
    assert answer.status_code == 401 and error(answer) == "unauthorized"


def test_an_address_outside_the_keys_allowed_ips_is_403(signed, client):
    allowed = signed("reader", allowed_ips=["10.9.0.0/16"], remote="10.9.1.2")
    assert allowed.get("events").status_code == 200
    elsewhere = SignedClient(client, allowed.key_id, allowed.secret, remote="10.8.1.2")
    answer = elsewhere.get("events")
    assert answer.status_code == 403 and error(answer) == "forbidden"


@pytest.mark.parametrize("role, method, path, data", [
    ("reader", "POST", "requests", {"balance_id": "x", "kind": "deposit", "amount": "1.00", "reason": "r"}),
    ("reader", "POST", "customers", {"customer_id": "c1", "email": "a@example.com", "country_code": "DE"}),
    ("reader", "POST", "balances", {"customer_id": "c1", "balance_id": "b1", "currency_code": "USD"}),
    ("operator", "POST", "requests/1/approve", {}),
    ("operator", "POST", "requests/1/reject", {"reason": "no"}),
    ("approver", "POST", "requests", {"balance_id": "x", "kind": "deposit", "amount": "1.00", "reason": "r"}),
    ("approver", "POST", "customers/c1/block", {"reason": "r"}),
])
def test_a_call_the_role_does_not_allow_is_403_and_changes_nothing(signed, make_balance, role, method, path, data):
    make_balance("10.00")
    caller = signed(role)
    before = everything()
    answer = caller.call(method, path, data, extra={"Idempotency-Key": "role"})
    assert answer.status_code == 403, answer.content
    assert error(answer) == "forbidden"
    assert everything() == before


@needs_redis
def test_nonces_are_shared_and_redis_down_fails_closed(signed, settings, make_balance):
    settings.REDIS_URL = TEST_REDIS_URL
    operator = signed("operator")
    balance = make_balance("10.00")
    raw = json.dumps(deposit(balance, "2.00")).encode()
    headers = {**operator.headers(raw), "Idempotency-Key": "r1"}
    assert operator.send("POST", "requests", raw, headers).status_code == 201
    assert operator.send("POST", "requests", raw, headers).status_code == 401
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens
    before = everything()
    down = operator.post("requests", deposit(balance, "3.00"), extra={"Idempotency-Key": "r2"})
    assert down.status_code == 503 and error(down) == "service_unavailable"
    assert down.headers["Retry-After"]
    assert everything() == before


def test_the_rate_per_key_is_429_for_that_key_only(signed, settings):
    settings.B2B_API_KEY_RATE = "3/minute"
    busy, other = signed("reader"), signed("reader")
    assert [busy.get("events").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert int(busy.get("events").headers["Retry-After"]) >= 1
    assert other.get("events").status_code == 200


def test_bad_input_is_a_clear_400_and_changes_nothing(signed, make_balance):
    operator, reader = signed("operator"), signed("reader")
    balance = make_balance("10.00")
    before = everything()
    cases = [
        ({**deposit(balance), "amount": "1.001"}, "k1", "invalid_amount"),
        ({**deposit(balance), "amount": 5}, "k2", "invalid_amount"),
        ({**deposit(balance), "kind": "gift"}, "k3", "invalid_request"),
        ({**deposit(balance), "reason": ""}, "k4", "invalid_request"),
        (deposit(balance), None, "invalid_request"),  # no Idempotency-Key
        (deposit(balance), "x" * 151, "invalid_request"),
    ]
    for data, key, code in cases:
        answer = operator.post("requests", data, extra={"Idempotency-Key": key} if key else None)
        assert answer.status_code == 400 and error(answer) == code, (data, answer.content)
    raw = b'{"balance_id": "x", "balance_id": "y"}'
    answer = operator.send("POST", "requests", raw, {**operator.headers(raw), "Idempotency-Key": "dup"})
    assert answer.status_code == 400
    for query in ("after=-1", "after=x", "limit=0", "limit=99999"):
        assert reader.get("events", query=query).status_code == 400, query
    assert reader.get("customers", query="cursor=not-a-cursor").status_code == 400
    assert everything() == before


# --- money --------------------------------------------------------------------------------------

def test_a_money_request_replays_under_its_key_and_refuses_another_body(signed, make_balance):
    operator = signed("operator")
    balance = make_balance("10.00")
    first = operator.post("requests", deposit(balance, "20.00"), extra={"Idempotency-Key": "pay-1"})
    assert first.status_code == 201 and first.json()["state"] == "posted" and first.json()["operation_id"]
    assert first.json()["requested_by"] == f"api:{operator.key_id}"
    again = operator.post("requests", deposit(balance, "20.00"), extra={"Idempotency-Key": "pay-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = operator.post("requests", deposit(balance, "21.00"), extra={"Idempotency-Key": "pay-1"})
    assert other.status_code == 409 and error(other) == "key_conflict"
    balance.refresh_from_db()
    assert balance.amount == Decimal("30.00")
    # Another key's "pay-1" is another request.
    second = signed("operator").post("requests", deposit(balance, "1.00"), extra={"Idempotency-Key": "pay-1"})
    assert second.status_code == 201 and second.json()["request_id"] != first.json()["request_id"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_twins_of_one_request_post_it_once(signed, make_balance):
    operator = signed("operator")
    balance = make_balance("10.00")
    from django.test import Client as ThreadClient

    def twin(i):
        return SignedClient(ThreadClient(), operator.key_id, operator.secret).post(
            "requests", deposit(balance, "7.00"), extra={"Idempotency-Key": "twin"})

    answers = run_parallel(6, twin)
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["request_id"] for a in answers}) == 1
    balance.refresh_from_db()
    assert balance.amount == Decimal("17.00")


def test_four_eyes_take_a_second_key_and_never_the_requesting_one(signed, make_balance, django_user_model):
    operator, approver = signed("operator"), signed("approver")
    balance = make_balance("100.00")
    asked = operator.post("requests", {**deposit(balance, "40.00"), "kind": "withdrawal"},
                          extra={"Idempotency-Key": "wd-1"})
    assert asked.status_code == 201 and asked.json()["state"] == "pending" and asked.json()["four_eyes"]
    request_id = asked.json()["request_id"]
    balance.refresh_from_db()
    assert balance.amount == Decimal("60.00")  # held at once
    assert operator.post(f"requests/{request_id}/approve").status_code == 403
    approved = approver.post(f"requests/{request_id}/approve")
    assert approved.status_code == 200 and approved.json()["state"] == "posted"
    assert approved.json()["decided_by"] == f"api:{approver.key_id}"
    again = approver.post(f"requests/{request_id}/approve")
    assert again.status_code == 200 and again.json()["operation_id"] == approved.json()["operation_id"]
    balance.refresh_from_db()
    assert balance.amount == Decimal("60.00")
    assert signed("approver").get(f"requests/{request_id}").json()["state"] == "posted"
    # A request an API key made is the key's own: even a staff approver is someone else, fine;
    # but the same label can never decide its own.
    assert AdjustmentRequest.objects.get(pk=request_id).requested_by == f"api:{operator.key_id}"


def test_a_rejected_withdrawal_gives_the_money_back(signed, make_balance):
    operator, approver = signed("operator"), signed("approver")
    balance = make_balance("50.00")
    asked = operator.post("requests", {**deposit(balance, "50.00"), "kind": "withdrawal"},
                          extra={"Idempotency-Key": "wd-2"}).json()
    assert asked["state"] == "pending"
    assert approver.post(f"requests/{asked['request_id']}/reject", {}).status_code == 400  # a reason is needed
    rejected = approver.post(f"requests/{asked['request_id']}/reject", {"reason": "not verified"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    balance.refresh_from_db()
    assert balance.amount == Decimal("50.00")
    late = approver.post(f"requests/{asked['request_id']}/approve")
    assert late.status_code == 409 and error(late) == "request_not_pending"


def test_a_withdrawal_beyond_the_balance_is_402_and_holds_nothing(signed, make_balance):
    balance, operator = make_balance("5.00"), signed("operator")
    before = everything()
    answer = operator.post("requests", {**deposit(balance, "6.00"), "kind": "withdrawal"},
                                     extra={"Idempotency-Key": "too-much"})
    assert answer.status_code == 402 and error(answer) == "insufficient_funds"
    assert everything() == before


# --- customers and balances ---------------------------------------------------------------------

def test_customers_are_created_read_edited_blocked_and_listed(signed):
    operator, reader = signed("operator"), signed("reader")
    made = operator.post("customers", {"customer_id": "crm-1", "email": "Zoe@Example.com", "country_code": "fr",
                                       "first_name": "Zoé", "date_of_birth": "1990-02-03"})
    assert made.status_code == 201, made.content
    assert made.json()["email"] == "Zoe@Example.com" and made.json()["country_code"] == "FR"
    assert operator.post("customers", {"customer_id": "crm-1", "email": "x@example.com",
                                       "country_code": "DE"}).status_code == 409
    assert operator.post("customers", {"customer_id": "crm 2", "email": "x@example.com",
                                       "country_code": "DE"}).status_code == 400
    read = reader.get("customers/crm-1").json()
    assert read["first_name"] == "Zoé" and read["date_of_birth"] == "1990-02-03" and read["blocked"] is False
    edited = operator.call("PATCH", "customers/crm-1", {"last_name": "Roux"})
    assert edited.status_code == 200 and edited.json()["last_name"] == "Roux"
    assert operator.call("PATCH", "customers/crm-1", {"customer_id": "other"}).status_code == 400
    blocked = operator.post("customers/crm-1/block", {"reason": "chargeback"})
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True and blocked.json()["changed"] is True
    assert operator.post("customers/crm-1/block", {"reason": "chargeback"}).json()["changed"] is False
    assert reader.get("customers", query="blocked=true").json()["results"][0]["customer_id"] == "crm-1"
    assert reader.get("customers", query="blocked=false").json()["results"] == []
    assert operator.post("customers/crm-1/unblock", {"reason": "resolved"}).json()["blocked"] is False
    assert reader.get("customers/nobody").status_code == 404
    types = list(Event.objects.filter(customer_id="crm-1").values_list("type", flat=True))
    assert types == ["customer.blocked", "customer.unblocked"]


def test_lists_page_by_cursor_without_repeats_or_gaps(signed, make_customer):
    made = {make_customer(email=f"p{i}@example.com").customer_id for i in range(7)}
    reader = signed("reader")
    seen, cursor, pages = [], None, 0
    while True:
        answer = reader.get("customers", query=f"limit=3{'&cursor=' + cursor if cursor else ''}").json()
        seen += [row["customer_id"] for row in answer["results"]]
        pages += 1
        if answer["next"] is None:
            break
        cursor = answer["next"]
    assert pages == 3 and len(seen) == len(set(seen)) == 7 and set(seen) == made


def test_balances_open_empty_and_list_with_their_entries(signed, make_customer):
    operator, reader = signed("operator"), signed("reader")
    customer = make_customer()
    opened = operator.post("balances", {"customer_id": customer.customer_id, "balance_id": "crm-b1",
                                        "currency_code": "EUR"})
    assert opened.status_code == 201 and opened.json()["amount"] == "0.00"
    assert operator.post("balances", {"customer_id": customer.customer_id, "balance_id": "crm-b1",
                                      "currency_code": "EUR"}).status_code == 409
    refused = operator.post("balances", {"customer_id": customer.customer_id, "balance_id": "crm-b2",
                                         "currency_code": "EUR", "amount": "500.00"})
    assert refused.status_code == 400 and not Balance.objects.filter(balance_id="crm-b2").exists()
    assert operator.post("balances", {"customer_id": "nobody", "balance_id": "crm-b3",
                                      "currency_code": "EUR"}).status_code == 404
    for i in range(3):
        operator.post("requests", {"balance_id": "crm-b1", "kind": "deposit", "amount": f"{i + 1}.00",
                                   "reason": "top-up"}, extra={"Idempotency-Key": f"top-{i}"})
    listed = reader.get(f"customers/{customer.customer_id}/balances").json()
    assert [row["balance_id"] for row in listed["results"]] == ["crm-b1"]
    assert listed["results"][0]["amount"] == "6.00"
    entries = reader.get("balances/crm-b1/entries", query="limit=2").json()
    assert [e["amount"] for e in entries["results"]] == ["1.00", "2.00"] and entries["next"]
    rest = reader.get("balances/crm-b1/entries", query=f"limit=2&cursor={entries['next']}").json()
    assert [e["balance_after"] for e in rest["results"]] == ["6.00"] and rest["next"] is None
    future = reader.get("balances/crm-b1/entries", query="from=2999-01-01T00:00:00Z").json()
    assert future["results"] == []
    assert reader.get("balances/crm-b1/entries", query="from=yesterday").status_code == 400


# --- the event log ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_events_read_in_commit_order_with_no_gap_under_concurrent_commits(signed, make_balance):
    balances = [make_balance("0.00") for _ in range(4)]
    operator = signed("operator")
    reader = signed("reader")
    start = reader.get("events", query="after=0&limit=5000").json()["next"]

    def deposit_some(i):
        caller = SignedClient(Client(), operator.key_id, operator.secret)
        for j in range(5):
            answer = caller.post("requests", deposit(balances[i % 4], "1.00", f"r{i}-{j}"),
                                 extra={"Idempotency-Key": f"c{i}-{j}"})
            assert answer.status_code == 201, answer.content
        return i

    run_parallel(8, deposit_some)
    seen, after = [], start
    while True:
        answer = reader.get("events", query=f"after={after}&limit=7").json()
        seen += answer["results"]
        after = answer["next"]
        if not answer["more"]:
            break
    sequences = [event["sequence"] for event in seen]
    assert sequences == list(range(start + 1, start + 1 + len(seen)))
    entries = [event for event in seen if event["type"] == "ledger.entry"]
    assert len(entries) == 40 and len({e["data"]["entry_id"] for e in entries}) == 40
    # Per balance, the balance_after of its entries climbs by one each time: commit order.
    for balance in balances:
        mine = [Decimal(e["data"]["balance_after"]) for e in entries if e["balance_id"] == balance.balance_id]
        assert mine == [Decimal(n) for n in range(1, len(mine) + 1)]
    assert {e["type"] for e in seen} >= {"ledger.entry", "request.posted"}


# --- keys, schema -------------------------------------------------------------------------------

def test_api_key_create_prints_the_secret_once_and_keeps_it_only_encrypted(capsys):
    call_command("api_key_create", "crm", "--role", "operator", "--allow-ip", "10.0.0.0/8",
                 "--webhook", "https://crm.example/hook")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("key: ") and lines[1].startswith("secret: ")
    key_id, secret = lines[0][5:], lines[1][8:]
    key = ApiKey.objects.get(key_id=key_id)
    assert key.role == "operator" and key.allowed_ips == ["10.0.0.0/8"]
    assert secret.encode() not in bytes(key.secret_wrapped) and len(secret) >= 32
    assert AuditEvent.objects.filter(action="api_key_created", target=f"api_key:{key_id}").exists()
    call_command("api_key_revoke", key_id)
    assert capsys.readouterr().out.strip() == f"revoked {key_id}"
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_back_office_schema_is_its_own(client):
    own = client.get("/backoffice/v1/schema/", HTTP_ACCEPT="application/json")
    assert own.status_code == 200
    paths = json.loads(own.content)["paths"]
    assert "/backoffice/v1/requests" in paths and "/backoffice/v1/events" in paths
    assert not any(path.startswith("/v1/") for path in paths)
    root = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)["paths"]
    assert not any(path.startswith("/backoffice/") for path in root)
    assert client.get("/backoffice/v1/schema/ui/").status_code == 200


def test_unknown_paths_and_methods_are_json(signed):
    reader = signed("reader")
    assert reader.get("nothing-here").json()["error"] == "not_found"
    answer = reader.call("DELETE", "events")
    assert answer.status_code == 405 and answer.json()["error"]


def test_staff_see_keys_without_their_secret_and_revoke_them_in_the_admin(client, django_user_model, signed):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    from tests.backoffice.conftest import staff_member

    reader = signed("reader")
    key = ApiKey.objects.get(key_id=reader.key_id)
    url = "/admin/integrations/apikey/"
    client.force_login(staff_member(django_user_model, "viewer", "integrations.view_apikey"))
    page = client.get(url, HTTP_HOST="localhost")
    assert page.status_code == 200 and reader.key_id in page.content.decode()
    assert reader.secret not in client.get(f"{url}{key.pk}/change/", HTTP_HOST="localhost").content.decode()
    refused = client.post(url, {"action": "revoke", ACTION_CHECKBOX_NAME: [key.pk]}, HTTP_HOST="localhost")
    assert refused.status_code in (200, 302)
    key.refresh_from_db()
    assert key.revoked_at is None  # the viewer holds no change permission
    client.force_login(staff_member(django_user_model, "keeper", "integrations.view_apikey",
                                    "integrations.change_apikey"))
    client.post(url, {"action": "revoke", ACTION_CHECKBOX_NAME: [key.pk]}, HTTP_HOST="localhost")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key_revoked", actor="keeper").exists()
    assert reader.get("events").status_code == 401


def test_head_reads_as_get_and_options_is_not_served(signed):
    reader = signed("reader")
    # HEAD is neither GET nor DELETE: its payload is its (empty) body, as the scheme says.
    assert reader.send("HEAD", "events", b"", reader.headers(b"")).status_code == 200
    assert reader.call("OPTIONS", "events").status_code == 405
