"""Customers in the staff's admin. Their personal data are opened with each customer's key for
the page (never stored in the clear), found by exact email through its keyed hash (names are
not searchable: that would need them in the clear), edited through customer_update, and erased
through a confirmation page by staff holding customers.erase_customer."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from audit.actors import Actor
from b2b_server.errors import DomainError
from backoffice.services.erasure import customer_erase, erasure_blockers
from customers.models import Customer
from customers.selectors import PERSONAL_FIELDS, customer_find_by_email, customer_profile
from customers.services import EDITABLE_FIELDS, PERSONAL_MAX_LENGTH, customer_update
from quadcode.services import customer_block_propagated

ERASED = "erased"


class ReasonActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=500, label="Reason",
                             widget=forms.TextInput(attrs={"placeholder": "why (kept in the audit trail)"}))


class CustomerForm(forms.ModelForm):
    """The profile in the clear, for the page only: it is sealed again by customer_update."""

    email = forms.EmailField(max_length=PERSONAL_MAX_LENGTH["email"])
    first_name = forms.CharField(max_length=PERSONAL_MAX_LENGTH["first_name"], required=False)
    middle_name = forms.CharField(max_length=PERSONAL_MAX_LENGTH["middle_name"], required=False)
    last_name = forms.CharField(max_length=PERSONAL_MAX_LENGTH["last_name"], required=False)
    phone_number = forms.CharField(max_length=PERSONAL_MAX_LENGTH["phone_number"], required=False)
    account_timezone = forms.CharField(max_length=PERSONAL_MAX_LENGTH["account_timezone"], required=False)
    date_of_birth = forms.DateField(required=False, help_text="YYYY-MM-DD")

    class Meta:
        model = Customer
        fields = ("country_code",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.erased_at is None:
            profile = customer_profile(customer=self.instance)
            for name in PERSONAL_FIELDS:
                self.initial[name] = getattr(profile, name)
                self.fields[name].initial = getattr(profile, name)

    def clean(self):
        data = super().clean()
        for name in PERSONAL_FIELDS:
            if name in data and data[name] is None and name != "date_of_birth":
                data[name] = ""
        return data


def _shown(name: str, label: str):
    """A read-only stand-in for a personal field of an erased customer."""
    def shown(self, obj):
        return ERASED

    shown.short_description = label
    shown.__name__ = f"{name}_erased"
    return shown


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ("customer_id", "email", "country_code", "is_blocked", "erased", "created_at")
    list_filter = ("is_blocked", "country_code", ("erased_at", admin.EmptyFieldListFilter))
    list_select_related = ("data_key",)
    search_fields = ("customer_id",)
    search_help_text = "A customer id, or an exact email address."
    readonly_fields = ("customer_id", "user", "is_blocked", "signup_ip_shown", "created_at", "updated_at")
    actions = ["block", "unblock", "erase"]
    action_form = ReasonActionForm

    def get_fields(self, request, obj=None):
        personal = [f"{name}_erased" for name in PERSONAL_FIELDS] if obj is not None and obj.erased_at \
            else list(PERSONAL_FIELDS)
        return ("customer_id", "user", "country_code", *personal, "is_blocked", "signup_ip_shown", "erased_at",
                "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.erased_at:
            return (*self.readonly_fields, "country_code", "erased_at",
                    *(f"{name}_erased" for name in PERSONAL_FIELDS))
        return (*self.readonly_fields, "erased_at")

    @admin.display(description="email")
    def email(self, obj):
        return ERASED if obj.erased_at else customer_profile(customer=obj).email

    @admin.display(description="erased", boolean=True, ordering="erased_at")
    def erased(self, obj):
        return obj.erased_at is not None

    @admin.display(description="sign-up IP")
    def signup_ip_shown(self, obj):
        if obj.erased_at:
            return ERASED
        return customer_profile(customer=obj).signup_ip or "—"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:
            return queryset.filter(pk__in=customer_find_by_email(email=term).values("pk")), False
        return super().get_search_results(request, queryset, term)

    def has_add_permission(self, request):
        return False  # customers are created by create_customer (and the back-office API), never half-made here

    def has_delete_permission(self, request, obj=None):
        return False  # their ledger history is kept; their personal data can be erased instead

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.erased_at is None)

    def has_block_permission(self, request) -> bool:
        return request.user.has_perm("customers.block_customer")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("customers.erase_customer")

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

    @admin.action(description="Erase the personal data of the selected customers…", permissions=["erase"])
    def erase(self, request, queryset):
        """First a confirmation page (what will happen, who cannot be erased and why, a reason);
        its "Erase" button posts the same action again with `confirmed`."""
        customers = list(queryset.order_by("customer_id"))
        reason = request.POST.get("erase_reason", "").strip()
        if request.POST.get("confirmed") == "yes" and reason:
            actor = Actor.staff(request.user)
            for customer in customers:
                try:
                    outcome = customer_erase(customer_id=customer.customer_id, reason=reason, actor=actor)
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    self.message_user(request, f"Customer {customer.customer_id}: " + (
                        "had been erased already; nothing was done." if outcome.replayed else
                        "personal data erased; the customer is blocked here and at the gateway."),
                        messages.SUCCESS)
            return None
        rows = [{"customer": c, "erased": c.erased_at is not None,
                 "blockers": [] if c.erased_at else erasure_blockers(customer_id=c.customer_id)} for c in customers]
        context = {**self.admin_site.each_context(request), "title": "Erase personal data",
                   "opts": self.model._meta, "rows": rows, "queryset": customers,
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                   "missing_reason": request.POST.get("confirmed") == "yes" and not reason,
                   "erasable": any(not r["erased"] and not r["blockers"] for r in rows)}
        return TemplateResponse(request, "admin/customers/customer/erase_confirmation.html", context)


for _name in PERSONAL_FIELDS:  # where each personal field was, an erased customer's page says so
    setattr(CustomerAdmin, f"{_name}_erased", _shown(_name, _name.replace("_", " ")))
