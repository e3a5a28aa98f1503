"""Who did what, when, to what: one row per staff (or system, or API key) action.

Append-only like the ledger: the database refuses UPDATE and DELETE (migration 0002), so a
row, once written in the same transaction as the change it describes, stays as written.
"""

from django.db import models


class Action(models.TextChoices):
    ADJUSTMENT_REQUESTED = "adjustment_requested"
    ADJUSTMENT_APPROVED = "adjustment_approved"
    ADJUSTMENT_REJECTED = "adjustment_rejected"
    ADJUSTMENT_EXPIRED = "adjustment_expired"
    ADJUSTMENT_POSTED = "adjustment_posted"
    OPERATION_REVERSED = "operation_reversed"
    CUSTOMER_BLOCKED = "customer_blocked"
    CUSTOMER_UNBLOCKED = "customer_unblocked"
    CUSTOMER_CHANGED = "customer_changed"
    CUSTOMER_ERASED = "customer_erased"
    LEDGER_EXPORTED = "ledger_exported"
    STAFF_LOGIN = "staff_login"
    STAFF_LOGIN_FAILED = "staff_login_failed"
    MFA_ENROLLED = "mfa_enrolled"
    RECONCILIATION_IMPORTED = "reconciliation_imported"
    RECONCILIATION_BREAK_RESOLVED = "reconciliation_break_resolved"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"


class AuditEvent(models.Model):
    time = models.DateTimeField(auto_now_add=True, db_index=True)
    # "alice" (a staff member), "cli:root" (a command run without --by), "api:KEY" (an API key),
    # "customer:ID" (a customer on their own pages), "system" (a scheduled task).
    actor = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    # What it was done to, as "<kind>:<id>": "balance:b1_USD", "request:17", "customer:c1", "user:alice".
    target = models.CharField(max_length=200, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "audit event"

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
