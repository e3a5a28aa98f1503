from csp.decorators import csp_exempt
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("balances.urls")),
    path("", include("traderoom.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI starts with an inline script: exempt from our CSP, the page has no user data.
    path("api/schema/ui/", csp_exempt()(SpectacularSwaggerView.as_view(url_name="schema")), name="schema-ui"),
    path("admin/", admin.site.urls),
]

handler400 = "b2b_server.exceptions.bad_request"
handler403 = "b2b_server.exceptions.permission_denied"
handler404 = "b2b_server.exceptions.page_not_found"
handler500 = "b2b_server.exceptions.server_error"
