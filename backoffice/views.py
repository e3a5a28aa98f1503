"""The staff's own admin pages: second factors (who has one, giving someone a new one) and the
reports (liabilities to customers, a balance's daily statement), each with a CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import segno
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone

from audit.actors import Actor
from backoffice.services import staff_mfa_enroll, staff_mfa_status
from balances.models import Balance
from balances.money import format_amount
from balances.reports import StatementDay, daily_statement, liabilities


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


# --- reports --------------------------------------------------------------------------------

def _csv_response(name: str, header: list[str], rows) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _may_read_balances(request) -> None:
    if not request.user.has_perm("balances.view_balance"):
        raise PermissionDenied


def liabilities_report(request):
    """What the broker owes its customers per currency, now or at `?at=` (ISO 8601)."""
    _may_read_balances(request)
    at, error = None, ""
    if request.GET.get("at"):
        try:
            at = dt.datetime.fromisoformat(request.GET["at"])
            at = at if timezone.is_aware(at) else at.replace(tzinfo=dt.UTC)
        except ValueError:
            error = "The moment must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z."
    lines = [] if error else liabilities(at=at)
    rows = [(line.currency, format_amount(line.owed, line.currency), format_amount(line.held, line.currency),
             line.balances) for line in lines]
    if request.GET.get("format") == "csv" and not error:
        return _csv_response("liabilities.csv", ["currency", "owed", "held", "balances"], rows)
    return TemplateResponse(request, "admin/backoffice/liabilities.html", {
        **admin.site.each_context(request), "title": "Liabilities to customers", "rows": rows, "error": error,
        "at": request.GET.get("at", ""), "moment": at or timezone.now()})


def statement_report(request):
    """A balance's statement day by day (`?balance_id=&from=&to=`)."""
    _may_read_balances(request)
    context = {**admin.site.each_context(request), "title": "Daily statement", "rows": [], "error": "",
               "balance_id": request.GET.get("balance_id", ""), "start": request.GET.get("from", ""),
               "end": request.GET.get("to", "")}
    if context["balance_id"]:
        balance = Balance.objects.filter(balance_id=context["balance_id"]).first()
        try:
            start, end = dt.date.fromisoformat(context["start"]), dt.date.fromisoformat(context["end"])
        except ValueError:
            start = end = None
        if balance is None:
            context["error"] = "There is no such balance."
        elif start is None or end is None or start > end or (end - start).days > 3660:
            context["error"] = "Give the period as two dates YYYY-MM-DD, the first not after the second."
        else:
            days = daily_statement(balance=balance, start=start, end=end)
            context["rows"] = [(row.day.isoformat(), *(format_amount(getattr(row, c), balance.currency)
                                                       for c in StatementDay.columns)) for row in days]
            context["currency"] = balance.currency
            if request.GET.get("format") == "csv":
                return _csv_response(f"statement-{balance.balance_id}.csv", ["day", *StatementDay.columns],
                                     context["rows"])
    context["columns"] = StatementDay.columns
    return TemplateResponse(request, "admin/backoffice/statement.html", context)
