from django.urls import path
from naive import views

urlpatterns = [
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>", views.balance),
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>/debit", views.debit),
    path("v1/customers/<str:customer_id>/balances/<str:balance_id>/credit", views.credit),
]
