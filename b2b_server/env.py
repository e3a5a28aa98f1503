"""Reading settings from the environment: each value is checked once, at start, and a bad one
stops the process with a message naming the variable (ImproperlyConfigured).

Also the one grammar of request rates, shared by every limiter (the balance API's own and
django-ratelimit's on the pages), so that a rate means the same thing everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {os.environ[name]!r}.")


def env_int(name: str, default: int, *, minimum: int | None = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0, positive: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if value != value or value in (float("inf"), float("-inf")) or value < minimum or (positive and value <= 0):
        raise ImproperlyConfigured(f"{name} must be a {'positive' if positive else 'non-negative'} number, "
                                   f"not {raw!r}.")
    return value


def env_networks(name: str, default: str = "") -> list[str]:
    """A comma-separated list of IP addresses and CIDRs, each checked here."""
    entries = env_list(name, default)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {entry!r} is not an IP address or CIDR.") from None
    return entries


# --- rates ----------------------------------------------------------------------------------

_PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# "<count>/<period>" with an optional multiplier: "1200/minute", "10/m", "100/5m". No spaces.
_RATE_RE = re.compile(r"([0-9]+)/([0-9]*)(second|minute|hour|day|s|m|h|d)", re.ASCII)


@dataclass(frozen=True)
class Rate:
    amount: int
    period: int  # seconds

    def for_django_ratelimit(self) -> str:
        """The same rate in django-ratelimit's own notation ("10/60s")."""
        return f"{self.amount}/{self.period}s"


def rate_parse(rate: str, *, setting: str) -> Rate:
    """`"1200/minute"`, `"20/second"`, `"50000/day"`, `"20/m"`, `"100/5m"`; anything else
    (`"10 / minute"`, `"ten/minute"`, `"0/minute"`) is refused, naming the setting."""
    match = _RATE_RE.fullmatch(rate) if isinstance(rate, str) else None
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ImproperlyConfigured(f"{setting}={rate!r} is not a rate like '1200/minute' or '10/m'.")
    return Rate(amount=int(match.group(1)), period=int(match.group(2) or 1) * _PERIODS[match.group(3)])


def env_rate(name: str, default: str, *, allow_empty: bool = False) -> str:
    """A rate setting, checked at start; kept as written (limiters parse it at call time, so
    tests may override it)."""
    value = os.environ.get(name, default).strip()
    if not value and allow_empty:
        return ""
    rate_parse(value, setting=name)
    return value


# --- durations and per-currency thresholds ----------------------------------------------------

_DURATION_RE = re.compile(r"([0-9]+)(s|m|h|d)?", re.ASCII)


def env_duration(name: str, default: str) -> int:
    """Seconds, written `3600`, `90s`, `15m`, `12h` or `7d`."""
    raw = os.environ.get(name, default).strip()
    match = _DURATION_RE.fullmatch(raw)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a duration like '7d', '12h', '15m' or '3600'.")
    return int(match.group(1)) * _PERIODS[match.group(2) or "s"]


_THRESHOLD_RE = re.compile(r"([A-Z]{3}|\*):([0-9]+(?:\.[0-9]+)?)", re.ASCII)


def env_thresholds(name: str, default: str) -> dict[str, Decimal]:
    """`USD:5000,EUR:4000,*:1000` -> {"USD": Decimal("5000"), …, "*": Decimal("1000")}; `*` is
    every currency not named. Without `*`, unnamed currencies have no threshold (everything is
    at or above it). The currency codes are checked against ISO 4217 at start (backoffice)."""
    thresholds: dict[str, Decimal] = {}
    for item in env_list(name, default):
        match = _THRESHOLD_RE.fullmatch(item)
        if not match:
            raise ImproperlyConfigured(f"{name}: {item!r} is not CUR:amount (e.g. 'USD:5000' or '*:1000').")
        if match.group(1) in thresholds:
            raise ImproperlyConfigured(f"{name}: {match.group(1)} is named twice.")
        thresholds[match.group(1)] = Decimal(match.group(2))
    return thresholds


def env_keys(name: str, *, default: str = "", required: bool) -> list[bytes]:
    """Comma-separated base64 keys of 32 bytes (AES-256), each checked."""
    import base64
    import binascii

    raw = env_list(name, default)
    if not raw:
        if required:
            raise ImproperlyConfigured(f"{name} must be set: comma-separated base64 keys of 32 bytes "
                                       f"(manage.py pii_keygen prints one).")
        return []
    keys = []
    for position, item in enumerate(raw, 1):
        try:
            key = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{name}: key {position} is not base64.") from None
        if len(key) != 32:
            raise ImproperlyConfigured(f"{name}: key {position} is {len(key)} bytes, not 32.")
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured(f"{name}: a key is listed twice.")
    return keys
