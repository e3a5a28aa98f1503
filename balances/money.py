"""Money on the wire: the ASCII amount grammar, ISO 4217 minor units, response formatting.

`Decimal()` alone is far too lenient for money arriving over HTTP: it accepts "NaN",
"Infinity", "1e9", " 1", "1_000" and non-ASCII digits such as "١٢٣". Every amount is matched
against a strict grammar first and only then converted. Nothing here ever rounds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

from iso4217 import Currency

from balances.errors import AmountInvalid, CurrencyUnknown

# The ledger columns are NUMERIC(30, 8): 22 integer digits at most.
AMOUNT_MAX_DIGITS = 30
AMOUNT_DECIMAL_PLACES = 8
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)

# digits[.digits], ASCII only; fullmatch so a trailing newline cannot slip past "$".
_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_AMOUNT_MAX_LENGTH = 64
_CURRENCY_RE = re.compile(r"[A-Z]{3}", re.ASCII)


@cache
def currency_exponent(code: str) -> int:
    """ISO 4217 minor units of an active currency ("USD" -> 2, "JPY" -> 0).

    Funds and metals without minor units (XAU, XDR, XXX...) are not money we keep.
    """
    if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
        raise CurrencyUnknown(f"currency_code must be an ISO 4217 code of three capital letters, not {code!r}.")
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise CurrencyUnknown(f"{code} is not an ISO 4217 currency code.") from None
    if exponent is None:
        raise CurrencyUnknown(f"{code} has no minor units and cannot be held on a balance.")
    return exponent


def parse_amount(raw: object, currency: str) -> Decimal:
    """Parse a positive wire amount in `currency`, rejecting anything not exactly representable.

    "10.50" and "10.5" are both 10.50 USD; trailing zeros beyond the minor units ("10.500")
    are accepted because they denote the same exact value, but "10.505" USD is rejected:
    we never round money.
    """
    currency_exponent(currency)
    if not isinstance(raw, str):
        raise AmountInvalid("amount must be a string such as \"10.50\".")
    if len(raw) > _AMOUNT_MAX_LENGTH or not _AMOUNT_RE.fullmatch(raw):
        raise AmountInvalid("amount must be a decimal string of ASCII digits such as \"10.50\".")
    return validate_amount(Decimal(raw), currency)


def validate_amount(value: Decimal, currency: str) -> Decimal:
    """Check an operation amount: positive, within the columns, exact in the currency's minor units."""
    exponent = currency_exponent(currency)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise AmountInvalid("amount must be a finite decimal.")
    if value <= 0:
        raise AmountInvalid("amount must be greater than zero.")
    if value >= AMOUNT_LIMIT:
        raise AmountInvalid(f"amount must be less than {AMOUNT_LIMIT:f}.")
    if value != value.quantize(Decimal(1).scaleb(-exponent)):
        raise AmountInvalid(f"amount has more decimals than {currency} allows ({exponent}).")
    return value


def format_amount(value: Decimal, currency: str) -> str:
    """Render an amount in the currency's own precision: "100500.00" USD, "1500" JPY."""
    return f"{value.quantize(Decimal(1).scaleb(-currency_exponent(currency))):f}"
