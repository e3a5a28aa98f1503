"""The broker's other systems as callers: API keys (each with a role, allowed addresses and an
optional webhook), and where each key's webhook stands in the event log."""

from __future__ import annotations

from django.db import models


class ApiKey(models.Model):
    class Role(models.TextChoices):
        READER = "reader"  # reads customers, balances, entries, requests and events
        OPERATOR = "operator"  # and creates customers and balances, blocks, asks to move money
        APPROVER = "approver"  # and approves or rejects what another key or a person asked

    key_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices)
    # CIDR blocks the key may call from; empty: any address.
    allowed_ips = models.JSONField(default=list, blank=True)
    # The secret, only wrapped (AES-256-GCM) by a master key of B2B_PII_KEYS, named by `master`.
    master = models.CharField(max_length=16)
    secret_wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Webhook: events are POSTed here in sequence order, at least once.
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_delivered = models.BigIntegerField(default=0, help_text="The last sequence the receiver acknowledged.")
    webhook_failures = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    webhook_retry_at = models.DateTimeField(null=True, blank=True)
    webhook_last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key_id} ({self.name}, {self.role}{', revoked' if self.revoked_at else ''})"
