from django.urls import path

from balances.api import BalanceCreditApi, BalanceDebitApi, BalanceDetailApi

urlpatterns = [
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>", BalanceDetailApi.as_view(), name="balance-detail"),
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>/debit", BalanceDebitApi.as_view(), name="balance-debit"),
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>/credit", BalanceCreditApi.as_view(), name="balance-credit"),
]
