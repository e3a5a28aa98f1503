from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from b2b_server import ops

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("healthz/api", ops.healthz_api, name="healthz-api"),
    path("metrics", ops.prometheus, name="metrics"),
    path("", include("balances.urls")),
    path("", include("traderoom.urls")),
    path("", include("account.urls")),
    path("backoffice/v1/", include("integrations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Under /api/: no CSP (Swagger UI starts with an inline script; the page has no user data).
    path("api/schema/ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="schema-ui"),
    path("admin/", admin.site.urls),
]

handler400 = "b2b_server.error_handlers.bad_request"
handler403 = "b2b_server.error_handlers.permission_denied"
handler404 = "b2b_server.error_handlers.page_not_found"
handler500 = "b2b_server.error_handlers.server_error"
