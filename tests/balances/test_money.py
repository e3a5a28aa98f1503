from decimal import Decimal

import pytest

from balances.errors import AmountInvalid, CurrencyUnknown
from balances.money import currency_exponent, format_amount, parse_amount


@pytest.mark.parametrize("raw,currency,expected", [
    ("10.50", "USD", Decimal("10.50")),
    ("10.5", "USD", Decimal("10.5")),
    ("10", "USD", Decimal("10")),
    ("10.500", "USD", Decimal("10.5")),  # trailing zeros: the same exact value, nothing rounded
    ("0.01", "USD", Decimal("0.01")),
    ("007", "USD", Decimal("7")),
    ("1500", "JPY", Decimal("1500")),
    ("1500.0", "JPY", Decimal("1500")),
    ("1.234", "BHD", Decimal("1.234")),  # three minor units
    ("1.2345", "CLF", Decimal("1.2345")),  # four minor units
    ("9999999999999999999999.99", "USD", Decimal("9999999999999999999999.99")),
])
def test_parse_amount_accepts_exact_positive_decimal_strings(raw, currency, expected):
    assert parse_amount(raw, currency) == expected


@pytest.mark.parametrize("raw,currency", [
    ("10.505", "USD"),  # more decimals than USD has: reject, never round
    ("1500.5", "JPY"),
    ("1.23456", "CLF"),
    ("0", "USD"), ("0.00", "USD"), ("-1", "USD"), ("+1", "USD"),
    ("NaN", "USD"), ("nan", "USD"), ("Infinity", "USD"), ("inf", "USD"), ("sNaN", "USD"),
    ("1e3", "USD"), ("1E3", "USD"), ("1_000", "USD"), ("1,000", "USD"),
    (" 1", "USD"), ("1 ", "USD"), ("1\n", "USD"), ("\t1", "USD"),
    (".5", "USD"), ("5.", "USD"), ("1.2.3", "USD"), ("", "USD"), ("0x10", "USD"),
    ("١٢٣", "USD"), ("１２３", "USD"), ("1\u00a0000", "USD"),
    ("10000000000000000000000", "USD"),  # 10^22 does not fit NUMERIC(30, 8)
    ("1" * 65, "USD"),
    (10, "USD"), (10.5, "USD"), (None, "USD"), (True, "USD"), (["1"], "USD"), ({"v": "1"}, "USD"),
])
def test_parse_amount_rejects_everything_else(raw, currency):
    with pytest.raises(AmountInvalid):
        parse_amount(raw, currency)


@pytest.mark.parametrize("code", ["usd", "US", "USDD", "ZZZ", "XAU", "XXX", "", None, 840, "ÜSD"])
def test_unknown_or_unitless_currencies_are_rejected(code):
    with pytest.raises(CurrencyUnknown):
        currency_exponent(code)


@pytest.mark.parametrize("value,currency,text", [
    (Decimal("100500"), "USD", "100500.00"),  # the example
    (Decimal("1500"), "JPY", "1500"),
    (Decimal("1.5"), "BHD", "1.500"),
    (Decimal("0E-8"), "USD", "0.00"),
    (Decimal("12.30000000"), "EUR", "12.30"),
])
def test_format_amount_uses_the_currency_precision(value, currency, text):
    assert format_amount(value, currency) == text
