"""The admin of customers and balances. Registered here, above the apps whose services it
combines, so that no app replaces another's admin classes."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from b2b_server.errors import DomainError
from balances.models import ADJUSTMENTS, Balance, Kind
from balances.money import format_amount, parse_amount
from balances.selectors import balance_recent_entries
from customers.models import Customer
from quadcode.services import balance_adjust_propagated, customer_block_propagated

RECENT_ENTRIES = 20


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("customer_id", "email", "country_code", "is_blocked", "created_at")
    list_filter = ("is_blocked", "country_code")
    search_fields = ("customer_id", "email", "first_name", "last_name")
    readonly_fields = ("created_at", "updated_at")
    raw_id_fields = ("user",)
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
        def money(value):
            return format_amount(value, balance.currency)

        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (f"{e.created_at:%Y-%m-%d %H:%M:%S}", e.get_kind_display(), money(e.realized_amount),
             money(e.balance_after), e.created_by or "", e.comment)
            for e in balance_recent_entries(balance=balance, limit=RECENT_ENTRIES)))
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
                posted = balance_adjust_propagated(
                    balance_id=balance.balance_id, kind=Kind(form.cleaned_data["kind"]),
                    amount=form.cleaned_data["amount"], reason=form.cleaned_data["reason"], user_id=request.user.pk)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                money = format_amount(posted.amount, posted.currency)
                after = format_amount(posted.balance_after, posted.currency)
                self.message_user(request, f"Posted: {posted.kind.label} {money} {posted.currency}; "
                                           f"balance now {after}.", messages.SUCCESS)
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
