"""A first cut of the money admin: balances are visible but their amount only moves through the
ledger; operations and entries are read-only for everyone, superusers included."""

from django.contrib import admin

from balances.models import Balance, LedgerEntry, Operation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ("balance_id", "customer", "currency", "type", "amount", "created_at")
    list_filter = ("currency", "type")
    search_fields = ("balance_id", "customer__customer_id", "customer__email")
    readonly_fields = ("amount", "created_at")
    raw_id_fields = ("customer",)

    def get_readonly_fields(self, request, obj=None):
        # Identity and currency are fixed once money may have moved.
        return self.readonly_fields + (("balance_id", "customer", "currency") if obj else ())

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "balance", "kind", "amount", "realized_amount", "balance_after", "operation")
    list_filter = ("kind", "created_at", "balance__currency")
    search_fields = ("operation__request_id", "balance__balance_id")
    list_select_related = ("balance",)


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "created_at", "kind", "balance", "amount", "force")
    list_filter = ("kind", "force")
    search_fields = ("request_id", "balance__balance_id")
    list_select_related = ("balance",)
