"""A first cut of the money admin: balances are visible but their amount only moves through the
ledger; operations and entries are read-only for everyone, superusers included."""

import csv

from django.contrib import admin
from django.http import StreamingHttpResponse

from balances.models import Balance, LedgerEntry, Operation

_CSV_COLUMNS = ["id", "created_at", "balance_id", "currency", "kind", "amount", "realized_amount",
                "balance_after", "request_id", "comment"]


class _Echo:
    def write(self, value):
        return value


def _csv_rows(queryset):
    writer = csv.writer(_Echo())
    yield writer.writerow(_CSV_COLUMNS)
    rows = queryset.order_by("id").values_list("id", "created_at", "balance__balance_id", "balance__currency", "kind",
                                                "amount", "realized_amount", "balance_after",
                                                "operation__request_id", "comment")
    for row in rows.iterator(chunk_size=2000):
        yield writer.writerow([value.isoformat() if hasattr(value, "isoformat") else value for value in row])


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
    list_select_related = ("balance", "operation")
    actions = ["export_csv"]

    @admin.action(description="Export the selected entries as CSV (select all to export the filtered list)")
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(_csv_rows(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="ledger-entries.csv"'
        return response


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "created_at", "kind", "balance", "amount", "force")
    list_filter = ("kind", "force")
    search_fields = ("request_id", "balance__balance_id")
    list_select_related = ("balance",)
