from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from integrations.api import balances, customers, events, money
from integrations.api.schema import SCHEMA_SETTINGS

urlpatterns = [
    path("customers", customers.CustomerListApi.as_view(), name="bo-customers"),
    path("customers/<str:customer_id>", customers.CustomerDetailApi.as_view(), name="bo-customer"),
    path("customers/<str:customer_id>/block", customers.CustomerBlockApi.as_view(), name="bo-customer-block"),
    path("customers/<str:customer_id>/unblock", customers.CustomerUnblockApi.as_view(), name="bo-customer-unblock"),
    path("customers/<str:customer_id>/balances", balances.CustomerBalancesApi.as_view(), name="bo-customer-balances"),
    path("balances", balances.BalanceOpenApi.as_view(), name="bo-balances"),
    path("balances/<str:balance_id>", balances.BalanceDetailApi.as_view(), name="bo-balance"),
    path("balances/<str:balance_id>/entries", balances.BalanceEntriesApi.as_view(), name="bo-balance-entries"),
    path("requests", money.RequestListApi.as_view(), name="bo-requests"),
    path("requests/<int:request_id>", money.RequestDetailApi.as_view(), name="bo-request"),
    path("requests/<int:request_id>/approve", money.RequestApproveApi.as_view(), name="bo-request-approve"),
    path("requests/<int:request_id>/reject", money.RequestRejectApi.as_view(), name="bo-request-reject"),
    path("events", events.EventListApi.as_view(), name="bo-events"),
    path("ws-token", events.FeedTokenApi.as_view(), name="bo-ws-token"),
    path("schema/", SpectacularAPIView.as_view(custom_settings=SCHEMA_SETTINGS),
         name="bo-schema"),
    path("schema/ui/", SpectacularSwaggerView.as_view(url_name="bo-schema"), name="bo-schema-ui"),
]
