"""Daily checkpoints and their hash chain.

A checkpoint's hash is SHA-256 over the previous checkpoint's hash (64 zeros for a balance's
first) followed by one line per entry of the batch, in id order: the JSON array
`[id, request_id, kind, amount, realized_amount, balance_after, created_at, comment]`, amounts
with 8 decimals, the time in UTC with microseconds. Anyone can recompute it from a dump.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal

GENESIS = "0" * 64
_EIGHT = Decimal("1e-8")

# What goes into a hash line, as values_list() fields of LedgerEntry (in this order).
ENTRY_FIELDS = ("id", "operation__request_id", "kind", "amount", "realized_amount", "balance_after", "created_at",
                "comment")


def _amount(value) -> str:
    return f"{Decimal(str(value)).quantize(_EIGHT):f}"


def entry_line(row: tuple) -> bytes:
    entry_id, request_id, kind, amount, realized, after, created_at, comment = row
    when = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return (json.dumps([entry_id, request_id, kind, _amount(amount), _amount(realized), _amount(after), when, comment],
                       ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def chain_hash(previous_hash: str, rows: Iterable[tuple]) -> tuple[str, int]:
    """(hash, number of entries) of one checkpoint's batch."""
    digest = hashlib.sha256(previous_hash.encode() + b"\n")
    count = 0
    for row in rows:
        digest.update(entry_line(row))
        count += 1
    return digest.hexdigest(), count
