"""Reading the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from audit.models import AuditEvent


def audit_events(*, since: dt.datetime | None = None, actor: str | None = None, action: str | None = None,
                 target: str | None = None) -> Iterator[AuditEvent]:
    """Oldest first, as they happened."""
    events = AuditEvent.objects.order_by("id")
    if since is not None:
        events = events.filter(time__gte=since)
    if actor:
        events = events.filter(actor=actor)
    if action:
        events = events.filter(action=action)
    if target:
        events = events.filter(target=target)
    return events.iterator(chunk_size=2000)


def audit_event_dict(event: AuditEvent) -> dict:
    return {"id": event.pk, "time": event.time.isoformat(), "actor": event.actor, "action": event.action,
            "target": event.target, "details": event.details}


def audit_events_about(*, targets: list[str], actor: str) -> Iterator[AuditEvent]:
    """Every record done to one of `targets` or by `actor`, oldest first."""
    from django.db.models import Q

    return (AuditEvent.objects.filter(Q(target__in=targets) | Q(actor=actor)).order_by("id")
            .iterator(chunk_size=2000))
