"""Hypothesis fuzz of the two parsers facing the outside world: amounts and tokens. Whatever
arrives, the answer is a value that keeps every invariant or our own clear error — never any
other exception."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b2b_server.errors import Unauthenticated
from balances.auth import verify_quadcode_token
from balances.errors import AmountInvalid, CurrencyUnknown
from balances.money import AMOUNT_LIMIT, currency_exponent, parse_amount
from tests.fuzz import report

CURRENCIES = ["USD", "JPY", "BHD", "CLF", "EUR", "XAU", "usd", "ZZZ", ""]
FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))

decimal_text = st.from_regex(r"\A[0-9]{1,24}(\.[0-9]{1,6})?\Z")
anything = st.one_of(st.text(max_size=80), decimal_text, st.integers(), st.floats(), st.none(), st.booleans(),
                     st.lists(st.text(max_size=3), max_size=2))


@FUZZ
@given(raw=anything, currency=st.sampled_from(CURRENCIES))
def test_parse_amount_returns_an_exact_positive_amount_or_refuses(raw, currency):
    try:
        value = parse_amount(raw, currency)
    except (AmountInvalid, CurrencyUnknown) as exc:
        report.count("amount parser fuzz", exc.code)
        return
    report.count("amount parser fuzz", "accepted")
    assert isinstance(raw, str) and raw.isascii() and raw == raw.strip()
    assert Decimal(0) < value < AMOUNT_LIMIT
    assert value == Decimal(raw)  # nothing rounded
    assert value == value.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


@pytest.fixture
def token_settings(quadcode_settings):
    return quadcode_settings


@FUZZ
@given(header=st.one_of(st.text(max_size=200), st.builds(lambda t: f"Bearer {t}", st.text(max_size=300)),
                        st.builds(lambda a, b, c: f"Bearer {a}.{b}.{c}", *[st.text("abcXYZ019-_=", max_size=60)] * 3)))
def test_any_authorization_header_is_refused_cleanly(token_settings, header):
    with pytest.raises(Unauthenticated):
        verify_quadcode_token(header)
    report.count("token fuzz", "refused")


@FUZZ
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AaZz09-_."))
def test_a_valid_token_with_any_one_character_changed_is_refused(token_settings, mint, position, replacement):
    token = mint()
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1:]
    if changed == token:
        return
    try:
        verify_quadcode_token(f"Bearer {changed}")
    except Unauthenticated:
        report.count("token fuzz (one character changed)", "refused")
        return
    # ES256 signatures are not malleable in the header or payload; only base64 padding bits of
    # the signature's last character may change without changing the bytes.
    assert index >= len(token) - 1
    report.count("token fuzz (one character changed)", "same bytes")
