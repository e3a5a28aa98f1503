"""The staff's admin: customers (block, unblock, profile edits — each in the audit trail),
balances (a request to move money, carrying a one-time key), and the queue of requests waiting
for a second person. Registered here, above the apps whose services it combines, so that no app
replaces another's admin classes."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from audit.actors import Actor
from b2b_server.admin import ReadOnlyAdmin
from b2b_server.errors import DomainError
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_approve, adjustment_reject, adjustment_request, operation_reverse
from balances.models import ADJUSTMENTS, Balance
from balances.money import format_amount, parse_amount
from balances.selectors import balance_held, balance_recent_entries
from customers.models import Customer
from customers.services import EDITABLE_FIELDS, customer_update
from quadcode.services import customer_block_propagated

RECENT_ENTRIES = 20


def _money(value, currency: str) -> str:
    return f"{format_amount(value, currency)} {currency}"


# --- customers -------------------------------------------------------------------------------

class ReasonActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500, label="Reason",
                             widget=forms.TextInput(attrs={"placeholder": "why (kept in the audit trail)"}))


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("customer_id", "email", "country_code", "is_blocked", "created_at")
    list_filter = ("is_blocked", "country_code")
    search_fields = ("customer_id", "email", "first_name", "last_name")
    readonly_fields = ("customer_id", "user", "is_blocked", "signup_ip", "created_at", "updated_at")
    fields = ("customer_id", "user", *EDITABLE_FIELDS, "is_blocked", "signup_ip", "created_at", "updated_at")
    actions = ["block", "unblock"]
    action_form = ReasonActionForm

    def has_add_permission(self, request):
        return False  # customers are created by create_customer (and the back-office API), never half-made here

    def has_delete_permission(self, request, obj=None):
        return False  # their ledger history is kept; see the erasure of personal data

    def has_block_permission(self, request) -> bool:
        return request.user.has_perm("customers.block_customer")

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        try:
            customer_update(customer_id=obj.customer_id, actor=Actor.staff(request.user), changes=changes)
        except DomainError as exc:
            raise ValidationError(exc.message) from None

    def _block(self, request, queryset, *, blocked: bool):
        reason = request.POST.get("reason", "")
        actor = Actor.staff(request.user)
        return sum(customer_block_propagated(customer_id=c.customer_id, actor=actor, blocked=blocked,
                                             reason=reason).changed for c in queryset)

    @admin.action(description="Block the selected customers (and tell the gateway)", permissions=["block"])
    def block(self, request, queryset):
        changed = self._block(request, queryset, blocked=True)
        self.message_user(request, f"{changed} customer(s) blocked; the gateway is told in the background.",
                          messages.SUCCESS)

    @admin.action(description="Unblock the selected customers", permissions=["block"])
    def unblock(self, request, queryset):
        changed = self._block(request, queryset, blocked=False)
        self.message_user(request, f"{changed} customer(s) unblocked.", messages.SUCCESS)


# --- balances ---------------------------------------------------------------------------------

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
    search_fields = ("balance_id", "customer__customer_id", "customer__email")
    readonly_fields = ("available", "held", "created_at", "adjust", "recent_entries")
    exclude = ("amount",)

    @admin.display(description="Available (what Quadcode sees)", ordering="amount")
    def available(self, balance):
        return _money(balance.amount, balance.currency) if balance.pk else "—"
    raw_id_fields = ("customer",)

    def get_urls(self):
        return [path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                     name="balances_balance_adjust")] + super().get_urls()

    @admin.display(description="Held for pending requests")
    def held(self, balance):
        return _money(balance_held(balance=balance), balance.currency) if balance.pk else "—"

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


# --- the queue of requests --------------------------------------------------------------------

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
        return _money(obj.amount, obj.currency)

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
        if obj.operation.reversals.exists():
            return f"reversed by operation {obj.operation.reversals.get().pk}"
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

