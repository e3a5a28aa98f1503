from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from customers.ids import COUNTRY_CODE_PATTERN, EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN


class DataKey(models.Model):
    """One customer's data key, stored only wrapped by a master key (customers.pii). Erasure
    empties `wrapped`: every value sealed under it, wherever it was copied, is then unreadable."""

    key_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    master = models.CharField(max_length=16, help_text="Which master key wraps it (its fingerprint).")
    wrapped = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A destroyed key has no bytes left; a live one has them.
            models.CheckConstraint(condition=(models.Q(wrapped__isnull=True, destroyed_at__isnull=False)
                                              | models.Q(wrapped__isnull=False, destroyed_at__isnull=True)),
                                   name="data_key_destroyed_has_no_bytes"),
        ]

    def __str__(self) -> str:
        return str(self.key_id)


class Customer(models.Model):
    """A broker's customer as Quadcode knows them (`customer_id` is the broker's own id).

    Their personal data are sealed under their own data key (customers.pii): `personal` holds
    email, names, phone, timezone and date of birth as one sealed document, `signup_ip` the
    address they signed up from (dropped after B2B_IP_RETENTION_DAYS). Read them through
    customers.selectors.customer_profile; find a customer by email through `email_hash`.
    """

    customer_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="customer"
    )
    data_key = models.OneToOneField(DataKey, on_delete=models.PROTECT, related_name="customer")
    personal = models.TextField(editable=False)
    email_hash = models.CharField(max_length=64, db_index=True, editable=False,
                                  help_text="Keyed hash of the email (customers.pii.email_hash); empty once erased.")
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code from the customer's profile.")
    # The address the customer signed up from, sealed: what a pre-registration at the gateway sends as ip.
    signup_ip = models.TextField(blank=True, editable=False)
    is_blocked = models.BooleanField(default=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("block_customer", "Can block and unblock customers"),
                       ("erase_customer", "Can erase a customer's personal data")]
        constraints = [
            models.CheckConstraint(condition=models.Q(customer_id__regex=EXTERNAL_ID_PATTERN),
                                   name="customer_id_charset"),
            models.CheckConstraint(condition=models.Q(country_code__regex=COUNTRY_CODE_PATTERN),
                                   name="customer_country_code"),
        ]

    def __str__(self) -> str:
        return self.customer_id
