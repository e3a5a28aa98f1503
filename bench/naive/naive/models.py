from django.db import models


class Balance(models.Model):
    customer_id = models.CharField(max_length=64)
    balance_id = models.CharField(max_length=64, unique=True)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=20, decimal_places=2)


class Entry(models.Model):
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT)
    request_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=6)
    amount = models.DecimalField(max_digits=20, decimal_places=2)
    balance_after = models.DecimalField(max_digits=20, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
