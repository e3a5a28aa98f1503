"""Customer actions that must reach the gateway live here, on top of the apps they combine."""

from django.contrib import admin, messages

from balances.admin import BalanceAdmin
from balances.models import Balance
from customers.admin import CustomerAdmin
from customers.models import Customer
from traderoom.models import AllowedCountry, GatewayCall
from traderoom.services import balance_adjust_propagated, customer_block_propagated


class CustomerWithGatewayAdmin(CustomerAdmin):
    actions = ["block", "unblock"]

    def has_block_permission(self, request) -> bool:
        return request.user.has_perm("customers.block_customer")

    @admin.action(description="Block the selected customers (and tell the gateway)", permissions=["block"])
    def block(self, request, queryset):
        changed = sum(customer_block_propagated(customer_id=c.customer_id).changed for c in queryset)
        self.message_user(request, f"{changed} customer(s) blocked; the gateway is told in the background.",
                          messages.SUCCESS)

    @admin.action(description="Unblock the selected customers", permissions=["block"])
    def unblock(self, request, queryset):
        changed = sum(customer_block_propagated(customer_id=c.customer_id, blocked=False).changed
                      for c in queryset)
        self.message_user(request, f"{changed} customer(s) unblocked.", messages.SUCCESS)


class BalanceWithGatewayAdmin(BalanceAdmin):
    adjust_service = staticmethod(balance_adjust_propagated)


admin.site.unregister(Customer)
admin.site.register(Customer, CustomerWithGatewayAdmin)
admin.site.unregister(Balance)
admin.site.register(Balance, BalanceWithGatewayAdmin)


@admin.register(GatewayCall)
class GatewayCallAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "customer_id", "created_at", "attempts", "next_attempt_at", "delivered_at",
                    "last_error")
    list_filter = ("kind", ("delivered_at", admin.EmptyFieldListFilter))
    search_fields = ("customer_id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AllowedCountry)
class AllowedCountryAdmin(admin.ModelAdmin):
    list_display = ("short_code", "iso_code", "name", "fetched_at")
    search_fields = ("short_code", "name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
