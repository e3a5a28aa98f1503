"""Reconciliation with Quadcode: each imported report, and each break found between the
platform's record of its debits and credits and ours."""

from django.conf import settings
from django.db import models


class ReportImport(models.Model):
    name = models.CharField(max_length=255, help_text="The file's name as given.")
    sha256 = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    rows = models.PositiveIntegerField()
    matched = models.PositiveIntegerField()
    missing_here = models.PositiveIntegerField()
    missing_there = models.PositiveIntegerField()
    mismatched = models.PositiveIntegerField()
    imported_by = models.CharField(max_length=150)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.window_start:%Y-%m-%d %H:%M} – {self.window_end:%Y-%m-%d %H:%M})"


class Break(models.Model):
    class Kind(models.TextChoices):
        MISSING_HERE = "missing_here", "in the report, not applied here"
        MISSING_THERE = "missing_there", "applied here, not in the report"
        MISMATCHED = "mismatched", "in both, but different"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    request_id = models.CharField(max_length=255)
    balance_id = models.CharField(max_length=64, blank=True)
    customer_id = models.CharField(max_length=64, blank=True)
    # What each side says: {"ours": {...} or None, "theirs": {...} or None, "differences": [...]}.
    details = models.JSONField(default=dict)
    first_seen = models.ForeignKey(ReportImport, on_delete=models.PROTECT, related_name="breaks_found")
    last_seen = models.ForeignKey(ReportImport, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution = models.TextField(blank=True)
    # A correction asked for through the staff controls, when the money had to move.
    correction = models.ForeignKey("backoffice.AdjustmentRequest", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    resolved_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "request_id"], name="break_once_per_kind_and_request")]
        indexes = [models.Index(fields=["kind"], condition=models.Q(resolved_at__isnull=True), name="break_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.request_id}"

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None
