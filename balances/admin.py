"""The ledger in the admin: operations and entries, read-only for everyone, superusers included.
(Balances themselves, with their adjustment form, are the staff's: backoffice.admin.)"""

import csv

from django.contrib import admin
from django.http import StreamingHttpResponse

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from b2b_server.admin import ReadOnlyAdmin
from balances.models import LedgerEntry, Operation

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


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "balance", "kind", "amount", "realized_amount", "balance_after", "operation")
    list_filter = ("kind", "created_at", "balance__currency")
    search_fields = ("operation__request_id", "balance__balance_id")
    list_select_related = ("balance", "operation")
    actions = ["export_csv"]

    def lookup_allowed(self, lookup, value, request=None):
        # One balance's entries, linked from its page: a list filter of every balance would not scale.
        return lookup == "balance__balance_id" or super().lookup_allowed(lookup, value, request)

    @admin.action(description="Export the selected entries as CSV (select all to export the filtered list)")
    def export_csv(self, request, queryset):
        audit_record(actor=Actor.staff(request.user), action=Action.LEDGER_EXPORTED, target="ledger",
                     details={"entries": queryset.count(), "filters": request.GET.urlencode()})
        response = StreamingHttpResponse(_csv_rows(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="ledger-entries.csv"'
        return response


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "created_at", "kind", "balance", "amount", "force")
    list_filter = ("kind", "force")
    search_fields = ("request_id", "balance__balance_id")
    list_select_related = ("balance",)
