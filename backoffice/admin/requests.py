"""The queue of money requests waiting for a second person: approve, reject, reverse."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from audit.actors import Actor
from b2b_server.admin import ReadOnlyAdmin
from b2b_server.errors import DomainError
from backoffice.admin.common import money_text
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_approve, adjustment_reject, operation_reverse
from balances.models import Operation


class PendingFirst(admin.SimpleListFilter):
    title, parameter_name = "state", "state"

    def lookups(self, request, model_admin):
        return [("pending", "waiting for approval"), *[(s.value, s.label) for s in AdjustmentRequest.State
                                                      if s != AdjustmentRequest.State.PENDING], ("all", "all")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {"selected": (self.value() or "pending") == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}

    def queryset(self, request, queryset):
        value = self.value() or "pending"
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(AdjustmentRequest)
class AdjustmentRequestAdmin(ReadOnlyAdmin):
    list_filter = (PendingFirst, "kind")
    search_fields = ("balance__balance_id", "requested_by", "decided_by", "key")
    list_select_related = ("balance",)
    readonly_fields = ("state", "kind", "balance", "amount", "currency", "reason", "reversal_of", "four_eyes",
                       "requested_by", "created_at", "expires_at", "hold", "decided_by", "decided_at",
                       "decision_reason", "operation", "key")
    exclude = ("fingerprint", "requested_by_user", "decided_by_user", "outgoing")

    def get_list_display(self, request):
        # The buttons need this request (its user and CSRF token): built per request, not shared.
        def decide(obj):
            return self._buttons(request, obj)

        decide.short_description = "decide"
        return ("id", "balance", "kind", "money", "requested_by", decide, "created_at")

    @admin.display(description="amount", ordering="amount")
    def money(self, obj):
        return money_text(obj.amount, obj.currency)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = get_object_or_404(AdjustmentRequest, pk=object_id) if str(object_id).isdigit() else None
        extra = {"decide": self._buttons(request, obj), "reverse_form": self._reverse_form(request, obj)} \
            if obj else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # The admin puts every list and every object page inside a <form> of its own, and forms do not
    # nest: these buttons submit that enclosing form (with its CSRF token) to their own URL
    # (formaction), and their inputs carry the request's id in their names.
    def _reverse_form(self, request, obj) -> str:
        if obj.state != AdjustmentRequest.State.POSTED or obj.kind == AdjustmentRequest.Kind.REVERSAL \
                or not request.user.has_perm("balances.adjust_balance"):
            return ""
        operation = Operation.objects.filter(pk=obj.operation_id).first()
        if operation is None:  # its month was archived out of the live database (ledger_archive)
            return f"operation {obj.operation_id} is archived"
        if operation.reversals.exists():
            return f"reversed by operation {operation.reversals.get().pk}"
        return format_html(
            '<input type="hidden" name="key-{}" value="{}"><input name="reason-{}" placeholder="reason" size="30"> '
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>'
            'Reverse operation {}</button>',
            obj.pk, uuid.uuid4().hex, obj.pk, reverse("admin:backoffice_adjustmentrequest_reverse", args=[obj.pk]),
            obj.operation_id)

    def _buttons(self, request, obj) -> str:
        own = obj.requested_by_user_id == request.user.pk
        if obj.state != AdjustmentRequest.State.PENDING or own \
                or not request.user.has_perm("balances.approve_adjustment"):
            return "your request: someone else decides" if own and obj.state == "pending" else "—"
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>Approve</button> '
            '<input name="reason-{}" placeholder="reason to reject" size="20"> '
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>Reject</button>',
            reverse("admin:backoffice_adjustmentrequest_approve", args=[obj.pk]), obj.pk,
            reverse("admin:backoffice_adjustmentrequest_reject", args=[obj.pk]))

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(fn)

        return [path("<int:pk>/approve/", view(self.approve_view), name="backoffice_adjustmentrequest_approve"),
                path("<int:pk>/reject/", view(self.reject_view), name="backoffice_adjustmentrequest_reject"),
                path("<int:pk>/reverse/", view(self.reverse_view), name="backoffice_adjustmentrequest_reverse"),
                ] + super().get_urls()

    def _decide(self, request, pk: int, decision) -> object:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            outcome = decision()
        except DomainError as exc:
            self.message_user(request, f"Request {pk}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"Request {pk}: {outcome.state}"
                              + (f" as operation {outcome.operation_id}." if outcome.operation_id else ".")
                              + (" (decided before; nothing new was done)" if outcome.replayed else ""),
                              messages.SUCCESS)
        return redirect(request.POST.get("next") or reverse("admin:backoffice_adjustmentrequest_changelist"))

    def approve_view(self, request, pk: int):
        return self._decide(request, pk, lambda: adjustment_approve(request_id=pk, actor=Actor.staff(request.user)))

    @staticmethod
    def _field(request, name: str, pk: int) -> str:
        return request.POST.get(f"{name}-{pk}") or request.POST.get(name, "")

    def reject_view(self, request, pk: int):
        return self._decide(request, pk, lambda: adjustment_reject(
            request_id=pk, actor=Actor.staff(request.user), reason=self._field(request, "reason", pk)))

    def reverse_view(self, request, pk: int):
        posted = get_object_or_404(AdjustmentRequest, pk=pk, state=AdjustmentRequest.State.POSTED)
        return self._decide(request, pk, lambda: operation_reverse(
            operation_id=posted.operation_id, reason=self._field(request, "reason", pk),
            key=self._field(request, "key", pk), actor=Actor.staff(request.user)))

