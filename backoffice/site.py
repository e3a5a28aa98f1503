"""The admin site staff use: Django's, with the login limited like the customers' (per IP and
per username), every login and failed login in the audit trail, and — with B2B_STAFF_MFA — a
TOTP second factor (django-otp) required to log in and to open any admin page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import path, reverse
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from b2b_server.clientip import client_ip_text
from b2b_server.page_limits import login_over_limit
from b2b_server.pages import too_many_attempts


class StaffLoginForm(OTPAdminAuthenticationForm):
    """Username, password and the current code (`otp_token`) in one step: a staff member has one
    TOTP device (enrolment replaces any other), so there is nothing to choose."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and not self.cleaned_data.get("otp_device"):
            device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
            if device is not None:  # used only once the password has authenticated this very user
                self.cleaned_data["otp_device"] = device.persistent_id
        return super().clean()


class StaffAdminSite(admin.AdminSite):
    site_header = "B2B wallet administration"
    site_title = "B2B wallet admin"

    # Read on each use, so that the setting (and a test overriding it) decides per request.
    @property
    def login_form(self):
        return StaffLoginForm if settings.B2B_STAFF_MFA else AdminAuthenticationForm

    @property
    def login_template(self):
        return "admin/staff_login.html" if settings.B2B_STAFF_MFA else None

    def has_permission(self, request) -> bool:
        verified = not settings.B2B_STAFF_MFA or request.user.is_verified()
        return super().has_permission(request) and verified

    def login(self, request, extra_context=None):
        if login_over_limit(request, "admin-login", settings.B2B_LOGIN_RATE):
            return too_many_attempts(request)
        response = super().login(request, extra_context)
        if request.method == "POST":
            username = str(request.POST.get("username", ""))[:150]
            details = {"ip": client_ip_text(request.META), "second_factor": settings.B2B_STAFF_MFA}
            if response.status_code == 302 and request.user.is_authenticated:
                audit_record(actor=Actor.staff(request.user), action=Action.STAFF_LOGIN,
                             target=f"user:{request.user.get_username()}", details=details)
            else:
                audit_record(actor=Actor(label="anonymous"), action=Action.STAFF_LOGIN_FAILED,
                             target=f"user:{username}", details=details)
        return response

    def get_urls(self):
        from backoffice.views import liabilities_report, mfa_enrol, mfa_overview, statement_report

        return [path("mfa/", self.admin_view(mfa_overview), name="mfa_overview"),
                path("mfa/<int:user_id>/", self.admin_view(mfa_enrol), name="mfa_enrol"),
                path("reports/liabilities/", self.admin_view(liabilities_report), name="report_liabilities"),
                path("reports/statement/", self.admin_view(statement_report), name="report_statement"),
                ] + super().get_urls()

    def get_app_list(self, request, app_label=None):
        """The reports, listed on the index like the models are."""
        apps = super().get_app_list(request, app_label)
        if app_label is None and request.user.has_perm("balances.view_balance"):
            apps.append({"name": "Reports", "app_label": "reports", "app_url": reverse("admin:report_liabilities"),
                         "has_module_perms": True, "models": [
                             {"name": "Liabilities to customers", "object_name": "liabilities",
                              "admin_url": reverse("admin:report_liabilities"), "view_only": True, "perms": {}},
                             {"name": "Daily statement of a balance", "object_name": "statement",
                              "admin_url": reverse("admin:report_statement"), "view_only": True, "perms": {}}]})
        return apps
