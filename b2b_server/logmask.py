"""Logs carry no customer's personal data: email addresses lose their local part wherever they
appear in a message or a traceback, and a visitor's address on our pages is cut to its network
(/24 for IPv4, /48 for IPv6). Quadcode's servers calling the API keep their whole address: it is
what the IP allowlist is debugged with, and it is no person's."""

from __future__ import annotations

import ipaddress
import logging
import re

EMAIL_RE = re.compile(r"[^\s\"'<>@,;:]+@([^\s\"'<>@,;:]+)")


def emails_masked(text: str) -> str:
    return EMAIL_RE.sub(r"***@\1", text)


def ip_masked(text: str | None) -> str | None:
    """203.0.113.45 → 203.0.113.0/24; 2001:db8:1:2::5 → 2001:db8:1::/48."""
    if not text:
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "?"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class PersonalDataFilter(logging.Filter):
    """On a handler: masks emails in the formatted message and in the exception's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = emails_masked(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = emails_masked(record.exc_text)
        return True
