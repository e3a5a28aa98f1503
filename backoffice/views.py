"""Admin pages of the staff's second factors: who has one, and giving someone a new one."""

from __future__ import annotations

import segno
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from audit.actors import Actor
from backoffice.services import staff_mfa_enroll, staff_mfa_status


def _superuser(request) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied


def mfa_overview(request):
    _superuser(request)
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    rows = [(user, staff_mfa_status(user=user)) for user in staff]
    return TemplateResponse(request, "admin/backoffice/mfa_overview.html",
                            {**admin.site.each_context(request), "title": "Staff second factors", "rows": rows})


def mfa_enrol(request, user_id: int):
    """POST: a new TOTP device for this staff member (any old one is replaced); the page shows its
    QR code and otpauth:// URI once, to be scanned by them."""
    _superuser(request)
    user = get_object_or_404(get_user_model(), pk=user_id, is_staff=True, is_active=True)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    uri = staff_mfa_enroll(username=user.get_username(), actor=Actor.staff(request.user))
    qr = segno.make(uri, error="m").svg_data_uri(scale=5)
    return TemplateResponse(request, "admin/backoffice/mfa_enrolled.html",
                            {**admin.site.each_context(request), "title": f"Second factor for {user.get_username()}",
                             "member": user, "uri": uri, "qr": qr})
