from django.db import models


class GatewayCall(models.Model):
    """The outbox of calls owed to Quadcode's gateway.

    A row is written in the same transaction as the change it reports (a rolled-back change
    leaves none), delivered by a Celery task after the commit, retried with backoff while the
    gateway is down, and swept up again by a periodic task if a message is ever lost. Calls
    are idempotent at the gateway (blocking twice blocks once), so a redelivery after a crash
    changes nothing there.
    """

    class Kind(models.TextChoices):
        BLOCK = "block"
        CREATE_CUSTOMER = "create_customer"  # payload: the customer, as POST /customers takes it
        BALANCE_PUSH = "balance_push"  # payload: {"balance_id": ...}; sends the state at delivery time

    kind = models.CharField(max_length=16, choices=Kind.choices)
    customer_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(auto_now_add=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], condition=models.Q(delivered_at__isnull=True),
                                name="gateway_call_pending")]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer_id}"


class AllowedCountry(models.Model):
    """The gateway's list of countries allowed to trade, refreshed periodically
    (GET /v1/b2b-gateway/allowed-countries). Empty until the first refresh."""

    short_code = models.CharField(max_length=2, primary_key=True)
    iso_code = models.CharField(max_length=3)
    name = models.CharField(max_length=100)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "allowed countries"
        ordering = ["short_code"]

    def __str__(self) -> str:
        return f"{self.short_code} {self.name}"
