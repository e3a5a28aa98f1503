"""Reconciliation in the admin: the imported reports, and the breaks with their details and
their resolution (a note, and when money must move, a correction through the staff controls)."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from audit.actors import Actor
from b2b_server.admin import ReadOnlyAdmin
from b2b_server.errors import DomainError
from balances.models import Balance
from balances.money import parse_amount
from reconciliation.models import Break, ReportImport
from reconciliation.services import break_resolve


@admin.register(ReportImport)
class ReportImportAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "window_start", "window_end", "rows", "matched", "missing_here", "missing_there",
                    "mismatched", "imported_by", "imported_at")
    search_fields = ("name", "sha256")


class OpenFirst(admin.SimpleListFilter):
    title, parameter_name = "state", "state"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved"), ("all", "all")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {"selected": (self.value() or "open") == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "all":
            return queryset
        return queryset.filter(resolved_at__isnull=value == "open")


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)
    correction = forms.ChoiceField(required=False, choices=[("", "no money moves"), ("correction_in", "correction (+)"),
                                                            ("correction_out", "correction (−)")])
    amount = forms.CharField(required=False, max_length=64)
    key = forms.CharField(widget=forms.HiddenInput, max_length=200)


@admin.register(Break)
class BreakAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "request_id", "balance_id", "customer_id", "first_seen", "resolved_at", "resolved_by")
    list_filter = (OpenFirst, "kind")
    search_fields = ("request_id", "balance_id", "customer_id")
    readonly_fields = ("kind", "request_id", "balance_id", "customer_id", "what_each_side_says", "first_seen",
                       "last_seen", "resolved_at", "resolved_by", "resolution", "correction")
    exclude = ("details", "resolved_by_user")

    @admin.display(description="what each side says")
    def what_each_side_says(self, item):
        return format_html("<pre>{}</pre>", json.dumps(item.details, indent=2, sort_keys=True))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = get_object_or_404(Break, pk=object_id) if str(object_id).isdigit() else None
        extra = {}
        if item is not None and not item.resolved and request.user.has_perm("reconciliation.change_break"):
            extra = {"resolve_form": ResolveForm(initial={"key": uuid.uuid4().hex}),
                     "resolve_url": reverse("admin:reconciliation_break_resolve", args=[item.pk])}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self):
        return [path("<int:pk>/resolve/", self.admin_site.admin_view(self.resolve_view),
                     name="reconciliation_break_resolve")] + super().get_urls()

    def resolve_view(self, request, pk: int):
        if request.method != "POST" or not request.user.has_perm("reconciliation.change_break"):
            raise PermissionDenied
        item = get_object_or_404(Break, pk=pk)
        form = ResolveForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError("A resolution needs a note.")
            amount = None
            if form.cleaned_data["correction"]:
                balance = Balance.objects.filter(balance_id=item.balance_id).first()
                if balance is None:
                    raise DomainError("The break names no balance here to correct.")
                amount = parse_amount(form.cleaned_data["amount"].strip(), balance.currency)
            break_resolve(break_id=item.pk, note=form.cleaned_data["note"], actor=Actor.staff(request.user),
                          correction_kind=form.cleaned_data["correction"] or None, correction_amount=amount,
                          key=f"recon:{item.pk}:{form.cleaned_data['key']}")
        except DomainError as exc:
            self.message_user(request, f"Break {item.pk}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Break {item.pk} resolved.", messages.SUCCESS)
        return redirect("admin:reconciliation_break_change", item.pk)
