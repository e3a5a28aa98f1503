from django.contrib import admin

from b2b_server.admin import ReadOnlyAdmin
from quadcode.models import AllowedCountry, GatewayCall


@admin.register(GatewayCall)
class GatewayCallAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "customer_id", "created_at", "attempts", "next_attempt_at", "delivered_at",
                    "last_error")
    list_filter = ("kind", ("delivered_at", admin.EmptyFieldListFilter))
    search_fields = ("customer_id",)

    # Recorded calls are never edited; staff with the permission may drop one that can never land.
    has_delete_permission = admin.ModelAdmin.has_delete_permission


@admin.register(AllowedCountry)
class AllowedCountryAdmin(ReadOnlyAdmin):
    list_display = ("short_code", "iso_code", "name", "fetched_at")
    search_fields = ("short_code", "name")
