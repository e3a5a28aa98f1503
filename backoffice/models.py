"""Requests to move money that staff (and customers, and API keys) make, and their lifecycle.

A request is created with its idempotency key; small incoming adjustments are posted at once,
everything else waits for a second person (four eyes): `pending`, its funds held at once when
it takes money out. Then `approved` -> `posted`, or `rejected`, or `expired`. Every ledger step
is keyed by the request (`bo:<id>:hold`, `…:post`, `…:release`), so an interrupted step is
resumed, never repeated; `new` and `approved` are the short-lived states in between.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from balances.models import Balance, Operation
from balances.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS


class AdjustmentRequest(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        CORRECTION_IN = "correction_in", "correction (+)"
        CORRECTION_OUT = "correction_out", "correction (−)"
        REVERSAL = "reversal"

    class State(models.TextChoices):
        NEW = "new"  # being set up (its hold, if any, being posted)
        PENDING = "pending"  # waiting for a second person
        APPROVED = "approved"  # approved, being posted
        POSTED = "posted"
        REJECTED = "rejected"
        EXPIRED = "expired"

    key = models.CharField(max_length=200, unique=True, help_text="The requester's idempotency key.")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of what was asked: a reused key must match.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="adjustment_requests")
    amount = models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    # For a reversal: the operation it undoes. At most one live request per operation.
    reversal_of = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False)
    outgoing = models.BooleanField(help_text="Takes money off the balance (and holds it while pending).")
    four_eyes = models.BooleanField(help_text="Waits for a second person's approval.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    requested_by = models.CharField(max_length=150)
    requested_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    # Not foreign keys in the database: operations are partitioned by month (balances 0012).
    hold = models.OneToOneField(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                db_constraint=False)
    operation = models.OneToOneField(Operation, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="adjustment_request", db_constraint=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_request_amount_positive"),
            models.UniqueConstraint(fields=["reversal_of"], name="adjustment_request_one_reversal",
                                    condition=Q(reversal_of__isnull=False) & ~Q(state__in=["rejected", "expired"])),
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="adjustment_request_state")]

    def __str__(self) -> str:
        return f"request {self.pk}: {self.kind} {self.amount} {self.currency} on {self.balance_id} ({self.state})"

    @property
    def by_customer(self) -> bool:
        """Asked for by the customer on their own pages (not by staff or an API key)."""
        return self.requested_by.startswith("customer:")

    def ledger_key(self, step: str) -> str:
        """The request_id of one of this request's ledger steps (hold, post, release)."""
        return f"bo:{self.pk}:{step}"
