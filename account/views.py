"""The customer's wallet pages. Every id in a URL or form is checked against the logged-in
customer: anybody else's balance is a 404, exactly like one that does not exist."""

from __future__ import annotations

import csv
import datetime as dt
from functools import wraps

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template import Context, Template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from account import services
from account.descriptions import entry_description
from account.errors import CodeRefused, SecondFactorMissing
from account.forms import ApiSessionForm, CodeForm, DepositForm, WithdrawForm
from account.selectors import account_overview, customer_requests
from b2b_server.errors import DomainError
from b2b_server.page_limits import over_limit
from b2b_server.pages import (
    account_blocked,
    country_restricted,
    no_trading_account,
    page_message,
    too_many_attempts,
    trading_unavailable,
)
from backoffice.errors import ExceedsAvailableAmount
from balances.errors import BalanceNotFound, CustomerBlocked, InsufficientFunds
from balances.models import OUTGOING, Kind
from balances.money import format_amount
from balances.selectors import balance_statement, customer_balances
from integrations.feed.tokens import feed_token_mint
from quadcode.gateway import Outcome
from quadcode.services import AvailableAmountUnknown
from quadcode.visitor import visitor_of

PAGE_SIZE = 50
API_SESSION_KEYS = "account.api_session_keys"  # in the Django session: forms already answered


def customer_page(view):
    """Logged in, with a customer account; the customer's id goes to the request log."""
    @never_cache
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        customer = getattr(request.user, "customer", None)
        if customer is None:
            return no_trading_account(request)
        request.customer_id = customer.customer_id
        if request.method == "POST" and over_limit(request, "account", [
                ("user", "B2B_ACCOUNT_RATE_PER_USER", settings.B2B_ACCOUNT_RATE_PER_USER)]):
            return too_many_attempts(request)
        return view(request, customer, *args, **kwargs)

    return wrapped


def _refusal(exc: DomainError) -> str:
    """What the customer reads for a refusal (the contract's own words where it has them)."""
    if isinstance(exc, InsufficientFunds):
        return _("Insufficient funds.")
    if isinstance(exc, (ExceedsAvailableAmount, AvailableAmountUnknown, CodeRefused, SecondFactorMissing)):
        return exc.message
    return exc.message


def _money(value, currency: str) -> str:
    return format_amount(value, currency)


def _entry_row(entry, currency: str) -> dict:
    return {"time": entry.created_at, "description": entry_description(entry.kind), "kind": entry.kind,
            "amount": _money(_signed(entry), currency), "balance_after": _money(entry.balance_after, currency)}


def _balance_cards(customer) -> list[dict]:
    cards = []
    for view in account_overview(customer=customer):
        currency = view.balance.currency
        cards.append({"balance": view.balance, "total": _money(view.total, currency),
                      "held": _money(view.held, currency), "available": _money(view.available, currency),
                      "entries": [_entry_row(entry, currency) for entry in view.entries]})
    return cards


@customer_page
def overview(request, customer):
    requests = [{"request": r, "amount": _money(r.amount, r.currency)} for r in customer_requests(customer=customer)]
    return render(request, "account/overview.html", {"cards": _balance_cards(customer), "requests": requests,
                                                     "customer": customer, "feed_url": settings.B2B_FEED_URL})


# --- statements ------------------------------------------------------------------------------

def _day(value: str | None, default: dt.date) -> dt.date | None:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _signed(entry) -> object:
    return -entry.realized_amount if Kind(entry.kind) in OUTGOING else entry.realized_amount


class _Echo:
    def write(self, value):
        return value


@customer_page
def statement(request, customer):
    today = timezone.now().date()
    start, end = _day(request.GET.get("from"), today.replace(day=1)), _day(request.GET.get("to"), today)
    if start is None or end is None or start > end:
        return page_message(request, title=_("Statement"), status=400,
                            message=_("Dates are written YYYY-MM-DD, and the period must not end before it starts."))
    try:
        balance_id = request.GET.get("balance_id") or customer_balances(customer_id=customer.customer_id)[0].balance_id
        balance = services.own_balance(customer=customer, balance_id=balance_id)
    except (BalanceNotFound, IndexError):
        return page_message(request, title=_("No such balance"), status=404,
                            message=_("This balance does not exist on your account."))
    period = balance_statement(balance=balance, start=dt.datetime.combine(start, dt.time.min, dt.UTC),
                               end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, dt.UTC))
    if request.GET.get("format") == "csv":
        return _statement_csv(period, start, end)
    page = Paginator(period.entries, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_entry_row(entry, balance.currency) for entry in page]
    return render(request, "account/statement.html", {
        "balance": balance, "balances": customer_balances(customer_id=customer.customer_id), "page": page,
        "rows": rows, "start": start, "end": end, "opening": _money(period.opening, balance.currency),
        "closing": _money(period.closing, balance.currency)})


def _statement_csv(period, start: dt.date, end: dt.date) -> StreamingHttpResponse:
    currency = period.balance.currency
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["time", "kind", "amount", "balance_after", "description"])
        for entry in period.entries.iterator(chunk_size=2000):
            yield writer.writerow([entry.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                                   entry.kind, _money(_signed(entry), currency),
                                   _money(entry.balance_after, currency), entry_description(entry.kind)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    name = f"statement-{period.balance.balance_id}-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- the second factor -----------------------------------------------------------------------

@customer_page
@require_http_methods(["GET", "POST"])
def security(request, customer):
    message, form = "", CodeForm()
    if request.method == "POST" and request.POST.get("action") == "start":
        services.second_factor_start(customer=customer)
    elif request.method == "POST":
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                services.second_factor_confirm(customer=customer, otp_token=form.cleaned_data["otp_token"])
            except DomainError as exc:
                form.add_error("otp_token", exc.message)
            else:
                message, form = _("Your second factor is active."), CodeForm()
    pending = services.second_factor_pending(customer=customer)
    return render(request, "account/security.html", {
        "active": services.second_factor_active(customer=customer), "pending": pending, "form": form,
        "message": message, "uri": pending.config_url if pending else "",
        "qr": segno.make(pending.config_url, error="m").svg_data_uri(scale=5) if pending else ""})


# --- withdrawals and deposits ----------------------------------------------------------------

@customer_page
@require_http_methods(["GET", "POST"])
def withdraw(request, customer):
    if customer.is_blocked:
        return account_blocked(request)
    if not services.second_factor_active(customer=customer):
        return render(request, "account/withdraw.html", {"needs_second_factor": True})
    balances = customer_balances(customer_id=customer.customer_id)
    form = WithdrawForm(request.POST or None, balances=balances)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.withdrawal_request(
                customer=customer, balance_id=form.cleaned_data["balance_id"], amount=form.cleaned_data["amount"],
                otp_token=form.cleaned_data["otp_token"], key=form.cleaned_data["key"])
        except CustomerBlocked:
            return account_blocked(request)
        except DomainError as exc:
            form.add_error(None, _refusal(exc))
        else:
            return render(request, "account/requested.html", {"outcome": outcome, "kind": "withdrawal"})
    return render(request, "account/withdraw.html", {"form": form, "cards": _balance_cards(customer)})


@customer_page
@require_http_methods(["GET", "POST"])
def deposit(request, customer):
    balances = customer_balances(customer_id=customer.customer_id)
    form = DepositForm(request.POST or None, balances=balances)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.deposit_announce(
                customer=customer, balance_id=form.cleaned_data["balance_id"], amount=form.cleaned_data["amount"],
                transfer_date=form.cleaned_data["transfer_date"], their_reference=form.cleaned_data["their_reference"],
                key=form.cleaned_data["key"])
        except DomainError as exc:
            form.add_error(None, _refusal(exc))
        else:
            return render(request, "account/requested.html", {"outcome": outcome, "kind": "deposit"})
    reference = services.payment_reference(customer)
    instructions = Template(settings.B2B_DEPOSIT_INSTRUCTIONS).render(
        Context({"reference": reference, "customer_id": customer.customer_id}))
    return render(request, "account/deposit.html", {"form": form, "instructions": instructions,
                                                    "reference": reference})


# --- API sessions ----------------------------------------------------------------------------

@customer_page
@require_http_methods(["GET", "POST"])
def api_session(request, customer):
    if customer.is_blocked:
        return account_blocked(request)
    form = ApiSessionForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return render(request, "account/api_session.html", {"form": form})
    answered = request.session.get(API_SESSION_KEYS, [])
    if form.cleaned_data["key"] in answered:  # a double submit: the session exists, its id was shown once
        return render(request, "account/api_session.html", {"form": ApiSessionForm(), "repeated": True})
    answer = services.api_session(customer=customer, visitor=visitor_of(request, customer),
                                  user_agent=form.user_agent, platform_id=form.cleaned_data["platform_id"])
    if answer.outcome is Outcome.OK:
        request.session[API_SESSION_KEYS] = [*answered[-49:], form.cleaned_data["key"]]
        return render(request, "account/api_session.html", {"ssid": answer.data["ssid"], "form": ApiSessionForm(),
                                                            "user_agent": form.user_agent})
    if answer.outcome in (Outcome.COUNTRY_RESTRICTED, Outcome.CURRENCY_RESTRICTED):
        return country_restricted(request)
    if answer.outcome is Outcome.RATE_LIMITED:
        return too_many_attempts(request, retry_after=answer.retry_after or 5)
    return trading_unavailable(request)


# --- live figures (the event feed) -------------------------------------------------------------

@never_cache
@login_required
@require_http_methods(["POST"])
def ws_token(request):
    """A short-lived token for the live feed (/ws/events), showing this customer's events only.
    Not counted against the page limit: a page reconnecting after a network blip asks again."""
    customer = getattr(request.user, "customer", None)
    if customer is None or customer.erased_at is not None:
        return JsonResponse({"error": "no_trading_account", "message": _("This login has no trading account.")},
                            status=403)
    minted = feed_token_mint(kind="customer", subject=customer.customer_id)
    return JsonResponse({"token": minted.token, "expires_in": minted.expires_in})


@customer_page
@require_http_methods(["GET"])
def figures(request, customer):
    """The figures of the balances page, as the page shows them (it asks when the feed says a
    balance moved)."""
    shown = {}
    for view in account_overview(customer=customer, entries=0):
        currency = view.balance.currency
        shown[view.balance.balance_id] = {"total": _money(view.total, currency), "held": _money(view.held, currency),
                                          "available": _money(view.available, currency)}
    return JsonResponse({"balances": shown})
