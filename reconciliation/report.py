"""Reading the platform's operations report: CSV with the header

    request_id,customer_id,balance_id,kind,amount,currency_code,realized_amount,created_at

(other header names mapped onto these with `OURS=THEIRS` pairs). Strict: every problem is named
by its line, and a report with one is not used at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from b2b_server.errors import DomainError
from balances.money import currency_exponent, parse_amount
from customers.ids import is_external_id
from reconciliation.errors import ReportInvalid

FIELDS = ("request_id", "customer_id", "balance_id", "kind", "amount", "currency_code", "realized_amount",
          "created_at")
KINDS = ("debit", "credit")
_REALIZED_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
MAX_ROWS = 5_000_000


@dataclass(frozen=True)
class ReportRow:
    line: int
    request_id: str
    customer_id: str
    balance_id: str
    kind: str
    amount: Decimal
    currency: str
    realized_amount: Decimal | None
    created_at: dt.datetime

    def as_dict(self) -> dict:
        return {"kind": self.kind, "customer_id": self.customer_id, "balance_id": self.balance_id,
                "amount": str(self.amount), "currency_code": self.currency,
                "realized_amount": None if self.realized_amount is None else str(self.realized_amount),
                "created_at": self.created_at.isoformat()}


def columns_parse(text: str | None) -> dict[str, str]:
    """`"request_id=Operation ID,amount=Amount"` -> {"Operation ID": "request_id", "Amount": "amount"}."""
    mapping: dict[str, str] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not theirs:
            raise ReportInvalid(f"--columns: {pair.strip()!r} is not OURS=THEIRS.")
        if ours not in FIELDS:
            raise ReportInvalid(f"--columns: {ours!r} is not one of {', '.join(FIELDS)}.")
        if theirs in mapping or ours in mapping.values():
            raise ReportInvalid(f"--columns: {ours!r} or {theirs!r} is mapped twice.")
        mapping[theirs] = ours
    return mapping


def _moment(raw: str, line: int) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ReportInvalid(f"line {line}: created_at {raw!r} is not an ISO 8601 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # a time without offset is UTC


def _realized(raw: str, currency: str, line: int) -> Decimal:
    if not _REALIZED_RE.fullmatch(raw) or len(raw) > 64:
        raise ReportInvalid(f"line {line}: realized_amount {raw!r} is not a decimal amount.")
    value = Decimal(raw)
    if value != value.quantize(Decimal(1).scaleb(-currency_exponent(currency))):
        raise ReportInvalid(f"line {line}: realized_amount {raw} has more decimals than {currency} allows.")
    return value


def _row(values: dict[str, str], line: int) -> ReportRow:
    request_id = values["request_id"]
    if not request_id or len(request_id) > 255 or not request_id.isprintable():
        raise ReportInvalid(f"line {line}: request_id must be 1-255 printable characters.")
    for name in ("customer_id", "balance_id"):
        if not is_external_id(values[name]):
            raise ReportInvalid(f"line {line}: {name} {values[name]!r} is not an id.")
    if values["kind"] not in KINDS:
        raise ReportInvalid(f"line {line}: kind must be debit or credit, not {values['kind']!r}.")
    currency = values["currency_code"]
    try:
        currency_exponent(currency)
        amount = parse_amount(values["amount"], currency)
    except DomainError as exc:
        raise ReportInvalid(f"line {line}: {exc.message}") from None
    realized = values["realized_amount"]
    if not realized and values["kind"] == "debit":
        raise ReportInvalid(f"line {line}: realized_amount is required for a debit.")
    return ReportRow(line=line, request_id=request_id, customer_id=values["customer_id"],
                     balance_id=values["balance_id"], kind=values["kind"], amount=amount, currency=currency,
                     realized_amount=_realized(realized, currency, line) if realized else None,
                     created_at=_moment(values["created_at"], line))


def report_parse(data: bytes, *, columns: dict[str, str] | None = None) -> list[ReportRow]:
    """Every row of a report, or ReportInvalid naming the first problem by its line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportInvalid(f"The report is not UTF-8 (byte {exc.start}).") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ReportInvalid("line 1: the report is empty.") from None
    except csv.Error as exc:
        raise ReportInvalid(f"line 1: {exc}") from None
    mapping = columns or {}
    names = []
    for column in (name.strip() for name in header):
        name = mapping.get(column, column if column not in mapping.values() else None)
        if name not in FIELDS:
            raise ReportInvalid(f"line 1: unknown column {column!r}.")
        if name in names:
            raise ReportInvalid(f"line 1: column {name!r} appears twice.")
        names.append(name)
    for theirs in mapping:
        if theirs not in (c.strip() for c in header):
            raise ReportInvalid(f"line 1: no column {theirs!r} (named in --columns).")
    missing = [name for name in FIELDS if name not in names]
    if missing:
        raise ReportInvalid(f"line 1: missing column(s) {', '.join(missing)}.")
    rows, seen = [], {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue  # a blank line
            if len(values) != len(names):
                raise ReportInvalid(f"line {line}: {len(values)} fields, the header has {len(names)}.")
            row = _row(dict(zip(names, (value.strip() for value in values), strict=True)), line)
            if row.request_id in seen:
                raise ReportInvalid(f"line {line}: request_id {row.request_id!r} is on line {seen[row.request_id]} "
                                    "already.")
            seen[row.request_id] = line
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise ReportInvalid(f"line {line}: more than {MAX_ROWS} rows; split the report by time.")
    except csv.Error as exc:
        raise ReportInvalid(f"line {reader.line_num}: {exc}") from None
    return rows
