"""The balance API as contract/balance-api.yaml (and its margin draft) describes it, with its
rules by name, checked in this order: "IP allowlist" 403, "token" 401, "per-customer limit" 429,
"body" 400, "lookup" 404, "blocked" 451, "funds" 402."""

import json
import logging
from decimal import Decimal

import pytest

from audit.actors import Actor
from balances.models import LedgerEntry
from customers.services import customer_block
from tests.conftest import body, ids, ledger_snapshot

ERROR_KEYS = {"error", "message"}


@pytest.fixture
def balance(make_balance):
    return make_balance("100.00")



# --- the happy paths, field by field from the contract --------------------------------------

def test_get_balance_answers_200_with_the_contract_fields(quadcode, balance):
    # contract: 200 "The customer balance amount." required: customer_id, balance_id, amount, currency_code
    response = quadcode.get_balance(*ids(balance))
    assert response.status_code == 200
    assert response.json() == {"customer_id": balance.customer.customer_id, "balance_id": balance.balance_id,
                               "amount": "100.00", "currency_code": "USD"}


def test_debit_answers_201_and_takes_the_amount(quadcode, balance):
    # contract: 201 "Debit operation has been successfully done."
    response = quadcode.debit(*ids(balance), body("30.25"))
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"operation_id", "customer_id", "balance_id", "amount", "realized_amount",
                         "balance_current_amount", "currency_code"}
    assert isinstance(data["operation_id"], int)
    assert (data["amount"], data["realized_amount"], data["balance_current_amount"]) == ("30.25", "30.25", "69.75")
    balance.refresh_from_db()
    assert balance.amount == Decimal("69.75")
    entry = LedgerEntry.objects.get(balance=balance, kind="debit")
    assert (entry.amount, entry.realized_amount, entry.balance_after, entry.comment) == (
        Decimal("30.25"), Decimal("30.25"), Decimal("69.75"), "option")


def test_credit_answers_201_and_adds_the_amount(quadcode, balance):
    # contract: 201 "Credit operation has been successfully done."
    response = quadcode.credit(*ids(balance), body("0.75"))
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"operation_id", "customer_id", "balance_id", "amount", "balance_current_amount",
                         "currency_code"}
    assert (data["amount"], data["balance_current_amount"]) == ("0.75", "100.75")


def test_amounts_are_rendered_in_the_currency_precision(quadcode, make_balance):
    yen = make_balance("1500", currency="JPY")
    assert quadcode.get_balance(*ids(yen)).json()["amount"] == "1500"
    response = quadcode.debit(*ids(yen), body("500", currency="JPY"))
    assert response.json()["balance_current_amount"] == "1000"
    dinar = make_balance("1.5", currency="BHD")
    assert quadcode.get_balance(*ids(dinar)).json()["amount"] == "1.500"


def test_force_debit_takes_what_there_is_and_reports_it_as_realized(quadcode, balance):
    response = quadcode.debit(*ids(balance), body("250.00", force=True))
    assert response.status_code == 201
    data = response.json()
    assert (data["amount"], data["realized_amount"], data["balance_current_amount"]) == ("250.00", "100.00", "0.00")
    again = quadcode.debit(*ids(balance), body("5.00", force=True))
    assert again.status_code == 201
    assert (again.json()["realized_amount"], again.json()["balance_current_amount"]) == ("0.00", "0.00")


def test_force_false_behaves_like_no_force(quadcode, balance):
    assert quadcode.debit(*ids(balance), body("250.00", force=False)).status_code == 402


# --- the "funds" rule: 402 -------------------------------------------------------------------

def test_uncovered_debit_is_402_and_changes_nothing_in_the_balance(quadcode, balance):
    # contract: 402 "Insufficient funds."
    response = quadcode.debit(*ids(balance), body("100.01"))
    assert response.status_code == 402
    assert response.json()["error"] == "insufficient_funds"
    assert set(response.json()) == ERROR_KEYS
    balance.refresh_from_db()
    assert balance.amount == Decimal("100.00")
    assert not LedgerEntry.objects.filter(kind="debit").exists()


def test_debit_of_the_whole_balance_leaves_zero(quadcode, balance):
    response = quadcode.debit(*ids(balance), body("100.00"))
    assert response.status_code == 201
    assert response.json()["balance_current_amount"] == "0.00"


# --- the "lookup" rule: 404 ---------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["get", "debit", "credit"])
def test_unknown_customer_unknown_balance_and_someone_elses_balance_are_404(quadcode, balance, make_balance,
                                                                            operation):
    # contract: 404 "The customer or the balance is not found."
    other = make_balance()
    cases = [("nobody", balance.balance_id), (balance.customer.customer_id, "no_such_balance"),
             (balance.customer.customer_id, other.balance_id), ("bad%00id", balance.balance_id),
             (balance.customer.customer_id, "é" * 3), ("x" * 65, balance.balance_id)]
    before = ledger_snapshot()
    for customer_id, balance_id in cases:
        if operation == "get":
            response = quadcode.get_balance(customer_id, balance_id)
        else:
            response = quadcode.post(customer_id, balance_id, operation, body())
        assert response.status_code == 404, (customer_id, balance_id, response.content)
        assert response.json()["error"] == "balance_not_found"
    assert ledger_snapshot() == before


# --- the "blocked" rule: 451 ---------------------------------------------------------------

def test_blocked_customer_gets_451_on_get_and_debit_but_credits_still_settle(quadcode, balance):
    # contract: 451 "The customer may not use the service (blocked)."
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id)
    before = ledger_snapshot()
    get = quadcode.get_balance(*ids(balance))
    debit = quadcode.debit(*ids(balance), body("1.00"))
    assert (get.status_code, debit.status_code) == (451, 451)
    assert get.json() == debit.json() == {"error": "customer_blocked", "message": "The customer is not allowed access."}
    assert ledger_snapshot() == before  # the refused debit claimed no request_id and moved nothing
    credit = quadcode.credit(*ids(balance), body("5.00"))
    assert credit.status_code == 201
    assert credit.json()["balance_current_amount"] == "105.00"


def test_blocked_wins_over_insufficient_funds(quadcode, balance):
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id)
    before = ledger_snapshot()
    response = quadcode.debit(*ids(balance), body("1000.00"))
    assert (response.status_code, response.json()["error"]) == (451, "customer_blocked")
    assert ledger_snapshot() == before


def test_unblocked_customer_trades_again(quadcode, balance):
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id)
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id, blocked=False)
    assert quadcode.debit(*ids(balance), body("1.00")).status_code == 201


# --- the "body" rule: 400 -------------------------------------------------------------------

def _without(field):
    result = body()
    del result[field]
    return result


BAD_BODIES = {
    "amount missing": (_without("amount"), "invalid_request"),
    "request_id missing": (_without("request_id"), "invalid_request"),
    "currency_code missing": (_without("currency_code"), "invalid_request"),
    "comment missing": (_without("comment"), "invalid_request"),
    "amount a number": (body(amount=10), "invalid_amount"),
    "amount a float": (body(amount=10.5), "invalid_amount"),
    "amount null": (body(amount=None), "invalid_amount"),
    "amount negative": (body(amount="-1.00"), "invalid_amount"),
    "amount zero": (body(amount="0.00"), "invalid_amount"),
    "amount exponent": (body(amount="1e2"), "invalid_amount"),
    "amount NaN": (body(amount="NaN"), "invalid_amount"),
    "amount Infinity": (body(amount="Infinity"), "invalid_amount"),
    "amount with spaces": (body(amount=" 1.00"), "invalid_amount"),
    "amount Arabic digits": (body(amount="١٠"), "invalid_amount"),
    "amount over-precise": (body(amount="1.001"), "invalid_amount"),
    "amount beyond the column": (body(amount="1" + "0" * 22), "invalid_amount"),
    "amount with comma": (body(amount="1,00"), "invalid_amount"),
    "currency lower case": (body(currency="usd"), "invalid_currency"),
    "currency unknown": (body(currency="ABC"), "invalid_currency"),
    "currency a number": (body(currency=840), "invalid_request"),
    "currency without minor units": (body(currency="XAU"), "invalid_currency"),
    "currency of another balance": (body(currency="EUR"), "currency_mismatch"),
    "request_id empty": (body(request_id=""), "invalid_request"),
    "request_id a number": (body(request_id=12345), "invalid_request"),
    "request_id too long": (body(request_id="r" * 256), "invalid_request"),
    "request_id with control characters": (body(request_id="r\n1"), "invalid_request"),
    "comment a number": (body(comment=5), "invalid_request"),
    "comment too long": (body(comment="c" * 1001), "invalid_request"),
    "comment with NUL": (body(comment="a\u0000b"), "invalid_request"),
    "force a string": (body(force="true"), "invalid_request"),
    "force a number": (body(force=1), "invalid_request"),
    "force null": (body(force=None), "invalid_request"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_debit_bodies_are_400_with_a_stable_code_and_change_nothing(quadcode, balance, case):
    # contract: 400 "Bad request."
    payload, code = BAD_BODIES[case]
    before = ledger_snapshot()
    response = quadcode.debit(*ids(balance), payload)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == code
    assert set(response.json()) == ERROR_KEYS
    assert ledger_snapshot() == before


RAW_BODIES = {
    "not JSON": b"amount=10",
    "truncated JSON": b'{"amount": "10.00"',
    "JSON array": b'[{"amount": "10.00"}]',
    "JSON string": b'"10.00"',
    "JSON null": b"null",
    "empty body": b"",
    "duplicate keys": json.dumps(body()).replace('"comment"', '"amount": "1.00", "comment"', 1).encode(),
    "NaN literal": b'{"request_id": "r", "amount": NaN, "currency_code": "USD", "comment": ""}',
    "not UTF-8": '{"request_id": "é", "amount": "1.00", "currency_code": "USD", "comment": ""}'.encode("latin-1"),
    "lone surrogate": b'{"request_id": "\\ud800", "amount": "1.00", "currency_code": "USD", "comment": ""}',
    "deeply nested": b'{"x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
}


@pytest.mark.parametrize("case", list(RAW_BODIES))
def test_malformed_json_is_a_clear_4xx_and_changes_nothing(quadcode, balance, case):
    before = ledger_snapshot()
    response = quadcode.credit(*ids(balance), None, raw=RAW_BODIES[case])
    assert response.status_code == 400, response.content
    assert set(response.json()) == ERROR_KEYS
    assert ledger_snapshot() == before


def test_an_oversized_body_is_a_400_payload_too_large(quadcode, balance):
    # contract: 400 "Bad request." is the only status it documents for bad input
    response = quadcode.credit(*ids(balance), body(comment="c" * 9000))
    assert response.status_code == 400
    assert response.json()["error"] == "payload_too_large"


def test_a_body_that_is_not_json_is_a_400_unsupported_media_type(quadcode, balance):
    response = quadcode.credit(*ids(balance), None, raw=b"request_id=1",
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_media_type"


def test_unknown_fields_are_ignored_for_forward_compatibility(quadcode, balance):
    response = quadcode.credit(*ids(balance), body("1.00", operation_id=7, extra={"nested": [1, 2]}))
    assert response.status_code == 201


def test_force_on_a_credit_is_ignored(quadcode, balance):
    assert quadcode.credit(*ids(balance), body("1.00", force="whatever")).status_code == 201


def test_trailing_zeros_beyond_the_minor_units_are_the_same_exact_amount(quadcode, balance):
    response = quadcode.debit(*ids(balance), body("1.500"))
    assert response.status_code == 201
    assert response.json()["amount"] == "1.50"


# --- the order of the rules -----------------------------------------------------------------

def test_rules_in_order_ip_allowlist_token_body_lookup(quadcode, balance):
    bad = {"amount": "x"}
    assert quadcode.debit("nobody", "nothing", bad, token="bad", REMOTE_ADDR="203.0.113.1").status_code == 403
    assert quadcode.debit("nobody", "nothing", bad, token="bad").status_code == 401
    assert quadcode.debit("nobody", "nothing", bad).status_code == 400
    assert quadcode.debit("nobody", "nothing", body()).status_code == 404


def test_rules_in_order_lookup_blocked_funds(quadcode, balance, make_balance):
    customer_block(actor=Actor.system(), customer_id=balance.customer.customer_id)
    before = ledger_snapshot()
    unknown = quadcode.debit(balance.customer.customer_id, "nothing", body("1000.00"))
    assert (unknown.status_code, unknown.json()["error"]) == (404, "balance_not_found")
    blocked = quadcode.debit(*ids(balance), body("1000.00"))
    assert (blocked.status_code, blocked.json()["error"]) == (451, "customer_blocked")
    assert ledger_snapshot() == before


# --- HTTP-level edges -----------------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "GET"])
def test_wrong_methods_are_405_json(quadcode, balance, method):
    response = quadcode.client.generic(method, f"/v1/customers/{balance.customer.customer_id}/balances/"
                                              f"{balance.balance_id}/debit",
                                      HTTP_AUTHORIZATION=f"Bearer {quadcode.mint()}")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_paths_are_json_404(quadcode):
    response = quadcode.client.get("/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_any_accept_header_still_gets_json(quadcode, balance):
    response = quadcode.get_balance(*ids(balance), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_bad_host_header_on_the_api_is_a_json_400(quadcode, balance):
    response = quadcode.get_balance(*ids(balance), HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_nothing_about_a_balance_leaks_in_404(quadcode, balance):
    a = quadcode.get_balance("nobody", balance.balance_id).json()
    b = quadcode.get_balance(balance.customer.customer_id, "nothing").json()
    assert a == b


def test_a_non_utf8_charset_is_400(quadcode, balance):
    response = quadcode.credit(*ids(balance), body(), content_type="application/json; charset=latin-1")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_media_type"


def test_options_is_405_not_a_metadata_page(quadcode, balance):
    response = quadcode.client.options(f"/v1/customers/{balance.customer.customer_id}/balances/{balance.balance_id}",
                                      HTTP_AUTHORIZATION=f"Bearer {quadcode.mint()}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_a_503_with_retry_after(quadcode, balance, caplog):
    from tests.conftest import database_down

    before = ledger_snapshot()
    with database_down(), caplog.at_level(logging.ERROR, logger="b2b_server.error_handlers"):
        response = quadcode.debit(*ids(balance), body())
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"] == "service_unavailable"
    assert any(record.getMessage().startswith("database unavailable:") for record in caplog.records)
    assert ledger_snapshot() == before
