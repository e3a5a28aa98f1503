from __future__ import annotations

from django.conf import settings
from django.db import models

from customers.ids import COUNTRY_CODE_PATTERN, EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN


class Customer(models.Model):
    """A broker's customer as Quadcode knows them (`customer_id` is the broker's own id)."""

    customer_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="customer"
    )
    email = models.EmailField()
    country_code = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code from the customer's profile.")
    first_name = models.CharField(max_length=100, blank=True)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    account_timezone = models.CharField(max_length=64, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    # The address the customer signed up from: what a pre-registration at the gateway sends as ip.
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    is_blocked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("block_customer", "Can block and unblock customers")]
        constraints = [
            models.CheckConstraint(condition=models.Q(customer_id__regex=EXTERNAL_ID_PATTERN),
                                   name="customer_id_charset"),
            models.CheckConstraint(condition=models.Q(country_code__regex=COUNTRY_CODE_PATTERN),
                                   name="customer_country_code"),
        ]

    def __str__(self) -> str:
        return self.customer_id
