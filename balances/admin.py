"""A first cut of the money admin: balances are visible but their amount only moves through the
ledger; operations and entries are read-only for everyone, superusers included."""

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from b2b_server.errors import DomainError
from balances.models import ADJUSTMENTS, Balance, Kind, LedgerEntry, Operation
from balances.money import format_amount, parse_amount
from balances.services import ledger_adjust

RECENT_ENTRIES = 20

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


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in ADJUSTMENTS])
    amount = forms.CharField(max_length=64, help_text="A positive amount in the balance's currency, e.g. 100.00")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000,
                             help_text="Why: it is stored with the ledger entry, with your name.")

    def __init__(self, *args, balance: Balance, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance = balance

    def clean_amount(self):
        try:
            return parse_amount(self.cleaned_data["amount"].strip(), self.balance.currency)
        except DomainError as exc:
            raise ValidationError(exc.message) from None


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ("balance_id", "customer", "currency", "type", "amount", "created_at")
    list_filter = ("currency", "type")
    search_fields = ("balance_id", "customer__customer_id", "customer__email")
    readonly_fields = ("amount", "created_at", "adjust", "recent_entries")
    raw_id_fields = ("customer",)
    # What posts an adjustment; an app on top may add side effects (traderoom: the balance push).
    adjust_service = staticmethod(ledger_adjust)

    def get_urls(self):
        return [path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                     name="balances_balance_adjust")] + super().get_urls()

    @admin.display(description="Adjustment")
    def adjust(self, balance):
        if balance.pk is None:
            return "—"
        return format_html('<a class="button" href="{}">Post a deposit, withdrawal or correction</a>',
                           reverse("admin:balances_balance_adjust", args=[balance.pk]))

    @admin.display(description=f"Last {RECENT_ENTRIES} entries")
    def recent_entries(self, balance):
        entries = LedgerEntry.objects.filter(balance=balance).select_related("operation", "created_by") \
            .order_by("-id")[:RECENT_ENTRIES]
        money = lambda value: format_amount(value, balance.currency)  # noqa: E731
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (f"{e.created_at:%Y-%m-%d %H:%M:%S}", e.get_kind_display(), money(e.realized_amount),
             money(e.balance_after), e.created_by or "", e.comment) for e in entries))
        return format_html('<table><tr><th>time (UTC)</th><th>kind</th><th>amount</th><th>balance</th>'
                           '<th>by</th><th>comment</th></tr>{}</table><p><a href="{}?balance__balance_id={}">'
                           'All entries of this balance</a></p>', rows,
                           reverse("admin:balances_ledgerentry_changelist"), balance.balance_id)

    def adjust_view(self, request, object_id):
        if not request.user.has_perm("balances.adjust_balance"):
            raise PermissionDenied
        balance = get_object_or_404(Balance, pk=object_id)
        form = AdjustmentForm(request.POST or None, balance=balance)
        if request.method == "POST" and form.is_valid():
            try:
                posted = self.adjust_service(balance_id=balance.balance_id, kind=Kind(form.cleaned_data["kind"]),
                                       amount=form.cleaned_data["amount"], reason=form.cleaned_data["reason"],
                                       user_id=request.user.pk)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Posted: {posted.kind.label} {format_amount(posted.amount, posted.currency)} "
                                           f"{posted.currency}; balance now {format_amount(posted.balance_after, posted.currency)}.",
                                  messages.SUCCESS)
                return redirect("admin:balances_balance_change", balance.pk)
        context = {**self.admin_site.each_context(request), "title": f"Adjust {balance.balance_id}",
                   "balance": balance, "form": form, "opts": self.model._meta,
                   "amount": format_amount(balance.amount, balance.currency)}
        return TemplateResponse(request, "admin/balances/balance/adjust.html", context)

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

    def lookup_allowed(self, lookup, value, request=None):
        # One balance's entries, linked from its page: a list filter of every balance would not scale.
        return lookup == "balance__balance_id" or super().lookup_allowed(lookup, value, request)

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
