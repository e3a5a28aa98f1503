from django.urls import path

from balances.api import BalanceCreditApi, BalanceDebitApi, BalanceDetailApi

BALANCE = "v1/customers/<str:customer_id>/balances/<str:balance_id>"

urlpatterns = [
    path(BALANCE, BalanceDetailApi.as_view(), name="balance-detail"),
    path(f"{BALANCE}/debit", BalanceDebitApi.as_view(), name="balance-debit"),
    path(f"{BALANCE}/credit", BalanceCreditApi.as_view(), name="balance-credit"),
]
