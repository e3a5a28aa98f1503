"""Writing the audit trail. Call it inside the transaction of the change it records: the row
then exists exactly when the change does."""

from __future__ import annotations

from audit.actors import Actor
from audit.models import Action, AuditEvent


def audit_record(*, actor: Actor, action: Action, target: str, details: dict | None = None) -> AuditEvent:
    return AuditEvent.objects.create(actor=actor.label[:150], action=action, target=target[:200],
                                     details=details or {})
