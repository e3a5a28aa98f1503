"""Every bad-input class we know of, in one table: the status, the stable error code, and a
ledger that did not move. Tokens and bodies come from their own suites' tables; headers, IPs,
ids, sizes, encodings and methods are listed here."""

from __future__ import annotations

import json

import pytest

from tests.balances.test_api import BAD_BODIES, RAW_BODIES
from tests.balances.test_auth import BAD_TOKENS
from tests.conftest import body, ledger_snapshot
from tests.fuzz import report

GOOD = json.dumps({"request_id": "table-1", "amount": "1.00", "currency_code": "USD", "comment": "x"}).encode()


def case(status, code, *, op="debit", raw=GOOD, content_type="application/json", method="POST", ids=None, **extra):
    return {"status": status, "code": code, "op": op, "raw": raw, "content_type": content_type, "method": method,
            "ids": ids, "extra": extra}


TABLE: dict[str, dict] = {}
for name, (payload, code) in BAD_BODIES.items():
    TABLE[f"body: {name}"] = case(400, code, raw=json.dumps(payload).encode())
for name, raw in RAW_BODIES.items():
    TABLE[f"raw body: {name}"] = case(400, None, raw=raw)
for name in BAD_TOKENS:
    TABLE[f"token: {name}"] = case(401, "unauthorized", token=name)
TABLE.update({
    "header: no content type": case(400, "unsupported_media_type", content_type=""),
    "header: text/plain": case(400, "unsupported_media_type", content_type="text/plain"),
    "header: form encoded": case(400, "unsupported_media_type", content_type="application/x-www-form-urlencoded"),
    "header: multipart": case(400, "unsupported_media_type", content_type="multipart/form-data; boundary=x"),
    "header: json with latin-1 charset": case(400, "unsupported_media_type",
                                              content_type="application/json; charset=latin-1"),
    "header: application/json-patch+json": case(400, "unsupported_media_type",
                                                content_type="application/json-patch+json"),
    "header: Basic auth": case(401, "unauthorized", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"),
    "header: two tokens": case(401, "unauthorized", HTTP_AUTHORIZATION="Bearer a.b.c Bearer d.e.f"),
    "ip: stranger": case(403, "forbidden", REMOTE_ADDR="203.0.113.7"),
    "ip: stranger via forwarded-for": case(403, "forbidden", REMOTE_ADDR="203.0.113.7",
                                           HTTP_X_FORWARDED_FOR="127.0.0.1"),
    "ip: empty peer": case(403, "forbidden", REMOTE_ADDR=""),
    "ip: garbage peer": case(403, "forbidden", REMOTE_ADDR="not-an-ip"),
    "ip: peer with port": case(403, "forbidden", REMOTE_ADDR="127.0.0.1:5555"),
    "ip: mapped stranger": case(403, "forbidden", REMOTE_ADDR="::ffff:203.0.113.7"),
    "id: unknown customer": case(404, "balance_not_found", ids=("nobody", None)),
    "id: unknown balance": case(404, "balance_not_found", ids=(None, "nothing")),
    "id: NUL in customer id": case(404, "balance_not_found", ids=("a%00b", None)),
    "id: space in balance id": case(404, "balance_not_found", ids=(None, "a%20b")),
    "id: 65 characters": case(404, "balance_not_found", ids=("x" * 65, None)),
    "id: unicode": case(404, "balance_not_found", ids=("%C3%A9", None)),
    "id: dot-dot": case(404, "balance_not_found", ids=("..", None)),
    "id: SQL": case(404, "balance_not_found", ids=("1'%20OR%20'1'='1", None)),
    "size: 8 KiB + 1": case(400, "payload_too_large", raw=b'{"pad": "' + b"x" * 8200 + b'"}'),
    "size: 1 MiB": case(400, "payload_too_large", raw=b"[" * (1 << 20)),
    "encoding: UTF-16": case(400, "invalid_request", raw=GOOD.decode().encode("utf-16")),
    "encoding: UTF-8 BOM": case(400, "invalid_request", raw=b"\xef\xbb\xbf" + GOOD),
    "encoding: invalid UTF-8": case(400, "invalid_request", raw=b'{"request_id": "\xff\xfe"}'),
    "encoding: overlong NUL": case(400, "invalid_request", raw=b'{"request_id": "\xc0\x80"}'),
    "method: PUT": case(405, "method_not_allowed", method="PUT"),
    "method: PATCH": case(405, "method_not_allowed", method="PATCH"),
    "method: DELETE": case(405, "method_not_allowed", method="DELETE"),
    "method: GET on debit": case(405, "method_not_allowed", method="GET"),
    "method: OPTIONS": case(405, "method_not_allowed", method="OPTIONS"),
    "method: TRACE": case(405, "method_not_allowed", method="TRACE"),
    "method: POST on the balance": case(405, "method_not_allowed", op=""),
    "credit: force is not a credit field, a bad amount still is": case(
        400, "invalid_amount", op="credit", raw=json.dumps(body(amount="1e5", force=True)).encode()),
})


def test_the_table_is_large():
    assert len(TABLE) > 100


@pytest.mark.parametrize("name", list(TABLE))
def test_bad_input_gets_its_status_and_code_and_moves_nothing(quadcode, mint, make_balance, name):
    spec = dict(TABLE[name])
    balance = make_balance("100.00")
    customer_id, balance_id = spec["ids"] or (None, None)
    path = f"/v1/customers/{customer_id or balance.customer.customer_id}/balances/{balance_id or balance.balance_id}"
    if spec["op"]:
        path += f"/{spec['op']}"
    extra = dict(spec["extra"])
    token_case = extra.pop("token", None)
    extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {BAD_TOKENS[token_case](mint) if token_case else mint()}")
    before = ledger_snapshot()
    kwargs = {"content_type": spec["content_type"]} if spec["content_type"] else {}
    response = quadcode.client.generic(spec["method"], path, spec["raw"], **kwargs, **extra)
    report.count("bad-input table", response.status_code)
    assert response.status_code == spec["status"], response.content
    payload = response.json()
    assert set(payload) == {"error", "message"}
    if spec["code"]:
        assert payload["error"] == spec["code"]
    assert ledger_snapshot() == before
