"""Reconciling the platform's report with the ledger, and resolving what does not agree.

Operations are matched on request_id. The window is the report's first to last created_at (or
--from/--to); our operations count by their own time. Within B2B_RECONCILE_SKEW of either end an
operation of ours the report lacks is not a break (the two clocks may disagree by that much); one
it has is matched as anywhere else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from backoffice.services import adjustment_request
from balances.selectors import RecordedOperation, operations_by_request_id, quadcode_operations_between
from reconciliation.errors import BreakNotFound, BreakResolved, ReportInvalid
from reconciliation.models import Break, ReportImport
from reconciliation.report import ReportRow, report_parse

Kind = Break.Kind


@dataclass(frozen=True)
class Reconciled:
    report: ReportImport
    matched: int
    missing_here: int
    missing_there: int
    mismatched: int

    @property
    def breaks(self) -> int:
        return self.missing_here + self.missing_there + self.mismatched

    @property
    def line(self) -> str:
        return (f"reconcile: matched {self.matched}, missing_here {self.missing_here}, "
                f"missing_there {self.missing_there}, mismatched {self.mismatched}")


def _ours(op: RecordedOperation | None) -> dict | None:
    if op is None:
        return None
    return {"kind": op.kind, "customer_id": op.customer_id, "balance_id": op.balance_id, "amount": str(op.amount),
            "currency_code": op.currency,
            "realized_amount": None if op.realized_amount is None else str(op.realized_amount),
            "created_at": op.created_at.isoformat()}


def _differences(row: ReportRow, op: RecordedOperation) -> list[str]:
    """What the two sides disagree on (amounts compared as exact values)."""
    differences = [name for name, theirs, ours in (
        ("kind", row.kind, op.kind), ("customer_id", row.customer_id, op.customer_id),
        ("balance_id", row.balance_id, op.balance_id), ("amount", row.amount, op.amount),
        ("currency_code", row.currency, op.currency)) if theirs != ours]
    if row.realized_amount is not None and row.realized_amount != op.realized_amount:
        differences.append("realized_amount")
    return differences


def report_reconcile(*, data: bytes, name: str, actor: Actor, columns: dict[str, str] | None = None,
                     start: dt.datetime | None = None, end: dt.datetime | None = None) -> Reconciled:
    rows = report_parse(data, columns=columns)
    if not rows and (start is None or end is None):
        raise ReportInvalid("The report has no operations: give --from and --to for the window it covers.")
    start = start or min(row.created_at for row in rows)
    end = end or max(row.created_at for row in rows)
    if start > end:
        raise ReportInvalid("The window ends before it starts.")
    skew = dt.timedelta(seconds=settings.B2B_RECONCILE_SKEW)
    rows = [row for row in rows if start <= row.created_at <= end]
    ours = operations_by_request_id(request_ids=[row.request_id for row in rows])
    found: list[tuple[str, str, dict, str, str]] = []  # (kind, request_id, details, balance_id, customer_id)
    matched = 0
    for row in rows:
        op = ours.get(row.request_id)
        if op is None or op.kind not in ("debit", "credit") or op.realized_amount is None:
            why = "not here" if op is None else ("declined here" if op.realized_amount is None else
                                                 f"a {op.kind} here, not Quadcode's")
            found.append((Kind.MISSING_HERE, row.request_id, {"theirs": row.as_dict(), "ours": _ours(op), "why": why},
                          row.balance_id, row.customer_id))
            continue
        differences = _differences(row, op)
        if differences:
            found.append((Kind.MISMATCHED, row.request_id, {"theirs": row.as_dict(), "ours": _ours(op),
                                                            "differences": differences},
                          op.balance_id, op.customer_id))
        else:
            matched += 1
    reported = {row.request_id for row in rows}
    for op in quadcode_operations_between(start=start + skew, end=end - skew):
        if op.request_id not in reported:
            found.append((Kind.MISSING_THERE, op.request_id, {"theirs": None, "ours": _ours(op)}, op.balance_id,
                          op.customer_id))
    counts = {kind: sum(1 for f in found if f[0] == kind) for kind in Kind}
    with transaction.atomic():
        report = ReportImport.objects.create(
            name=name[:255], sha256=hashlib.sha256(data).hexdigest(), window_start=start, window_end=end,
            rows=len(rows), matched=matched, missing_here=counts[Kind.MISSING_HERE],
            missing_there=counts[Kind.MISSING_THERE], mismatched=counts[Kind.MISMATCHED], imported_by=actor.label)
        new = 0
        for kind, request_id, details, balance_id, customer_id in found:
            known = Break.objects.filter(kind=kind, request_id=request_id).first()
            if known is None:
                Break.objects.create(kind=kind, request_id=request_id, details=details, balance_id=balance_id or "",
                                     customer_id=customer_id or "", first_seen=report, last_seen=report)
                new += 1
            else:  # seen in an earlier import: no duplicate, only when it was last seen
                Break.objects.filter(pk=known.pk).update(last_seen=report)
        audit_record(actor=actor, action=Action.RECONCILIATION_IMPORTED, target=f"report:{report.pk}",
                     details={"name": report.name, "sha256": report.sha256, "window": [start.isoformat(),
                                                                                       end.isoformat()],
                              "matched": matched, **{k.value: counts[k] for k in Kind}, "new_breaks": new})
    return Reconciled(report=report, matched=matched, missing_here=counts[Kind.MISSING_HERE],
                      missing_there=counts[Kind.MISSING_THERE], mismatched=counts[Kind.MISMATCHED])


def break_resolve(*, break_id: int, note: str, actor: Actor, correction_kind: str | None = None,
                  correction_amount: Decimal | None = None, key: str = "") -> Break:
    """Close a break with a note; with a correction, the money moves through the staff controls
    (a request: posted at once or waiting for four eyes, as any other), linked to the break."""
    note = (note or "").strip()
    if not note:
        raise ReportInvalid("A resolution needs a note.")
    item = Break.objects.filter(pk=break_id).first()
    if item is None:
        raise BreakNotFound(f"There is no break {break_id}.")
    if item.resolved:
        raise BreakResolved(f"Break {break_id} was resolved by {item.resolved_by} already.")
    correction = None
    if correction_kind:
        correction = adjustment_request(balance_id=item.balance_id, kind=correction_kind, amount=correction_amount,
                                        reason=f"reconciliation break {item.pk} ({item.request_id}): {note}",
                                        key=key or f"recon:{item.pk}", actor=actor)
    with transaction.atomic():
        updated = Break.objects.filter(pk=item.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=actor.label, resolved_by_user_id=actor.user_id, resolution=note,
            correction_id=correction.request_id if correction else None)
        if not updated:
            raise BreakResolved(f"Break {break_id} was resolved meanwhile.")
        audit_record(actor=actor, action=Action.RECONCILIATION_BREAK_RESOLVED, target=f"break:{item.pk}",
                     details={"kind": item.kind, "request_id": item.request_id, "note": note,
                              "correction_request": correction.request_id if correction else None})
    item.refresh_from_db()
    return item
