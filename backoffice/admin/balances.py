"""Balances in the staff's admin: what Quadcode sees, what is held, the latest entries, and a
request to move money (carrying a one-time key)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.actors import Actor
from b2b_server.errors import DomainError
from backoffice.admin.common import money_text
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_request
from balances.models import ADJUSTMENTS, Balance
from balances.money import format_amount, parse_amount
from balances.selectors import balance_held, balance_recent_entries

RECENT_ENTRIES = 20


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in ADJUSTMENTS])
    amount = forms.CharField(max_length=64, help_text="A positive amount in the balance's currency, e.g. 100.00")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000,
                             help_text="Why: it is stored with the request and the ledger entry, with your name.")
    # One per rendering of the form: a double click or a resubmitted page is the same request.
    key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, balance: Balance, **kwargs):
        super().__init__(*args, **kwargs)
        self.balance = balance

    def clean_amount(self):
        try:
            return parse_amount(self.cleaned_data["amount"].strip(), self.balance.currency)
        except DomainError as exc:
            raise ValidationError(exc.message) from None


def _outcome_message(outcome) -> str:
    if outcome.state == AdjustmentRequest.State.POSTED:
        text = f"Posted: operation {outcome.operation_id} (request {outcome.request_id})."
    else:
        text = f"Pending: request {outcome.request_id} waits for a second staff member's approval."
    return text + (" This form had been submitted already; nothing new was done." if outcome.replayed else "")


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ("balance_id", "customer", "type", "available", "created_at")
    list_filter = ("currency", "type")
    search_fields = ("balance_id", "customer__customer_id")
    readonly_fields = ("available", "held", "created_at", "adjust", "recent_entries")
    exclude = ("amount",)

    @admin.display(description="Available (what Quadcode sees)", ordering="amount")
    def available(self, balance):
        return money_text(balance.amount, balance.currency) if balance.pk else "—"
    raw_id_fields = ("customer",)

    def get_urls(self):
        return [path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                     name="balances_balance_adjust")] + super().get_urls()

    @admin.display(description="Held for pending requests")
    def held(self, balance):
        return money_text(balance_held(balance=balance), balance.currency) if balance.pk else "—"

    @admin.display(description="Adjustment")
    def adjust(self, balance):
        if balance.pk is None:
            return "—"
        return format_html('<a class="button" href="{}">Request a deposit, withdrawal or correction</a>',
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
        balance = get_object_or_404(Balance.objects.select_related("customer"), pk=object_id)
        form = AdjustmentForm(request.POST or None, balance=balance, initial={"key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                outcome = adjustment_request(
                    balance_id=balance.balance_id, kind=form.cleaned_data["kind"], amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"], key=form.cleaned_data["key"], actor=Actor.staff(request.user))
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, _outcome_message(outcome), messages.SUCCESS)
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


