"""The end user's pages: the trading room in an iframe, or a clear word on why not."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from b2b_server.page_limits import ip_key, login_over_limit, over_limit
from b2b_server.pages import (
    account_blocked,
    country_restricted,
    no_trading_account,
    page_message,
    too_many_attempts,
    trading_unavailable,
)
from balances.errors import BalanceNotFound
from balances.selectors import customer_balance
from quadcode.gateway import Outcome
from quadcode.selectors import country_known_refused
from quadcode.visitor import visitor_of
from traderoom.services import traderoom_session_open

log = logging.getLogger(__name__)


@never_cache
@login_required
def traderoom(request):
    if over_limit(request, "traderoom", [
            ("user", "B2B_TRADEROOM_RATE_PER_USER", settings.B2B_TRADEROOM_RATE_PER_USER),
            (ip_key, "B2B_TRADEROOM_RATE_PER_IP", settings.B2B_TRADEROOM_RATE_PER_IP)]):
        return too_many_attempts(request)
    customer = getattr(request.user, "customer", None)
    request.customer_id = customer.customer_id if customer is not None else None  # for the request log
    if customer is None:
        return no_trading_account(request)
    try:
        balance = customer_balance(customer_id=customer.customer_id, balance_id=request.GET.get("balance_id"))
    except BalanceNotFound:
        return page_message(request, title=_("No such balance"),
                            message=_("This balance does not exist on your account."), status=404)

    visitor = visitor_of(request, customer)
    if country_known_refused(visitor.country_code):
        # The gateway's own list says no: answer at once, without a round trip to it.
        return country_restricted(request)
    answer = traderoom_session_open(customer=customer, balance=balance, visitor=visitor)
    if answer.outcome is Outcome.OK:
        response = render(request, "traderoom/room.html", {"url": answer.url, "balance": balance})
        parts = urlsplit(answer.url)
        # django-csp's per-response override: frame exactly the session URL's origin.
        response._csp_replace = {"frame-src": [f"{parts.scheme}://{parts.netloc}"]}
        return response
    if answer.outcome is Outcome.COUNTRY_RESTRICTED:
        return country_restricted(request)
    if answer.outcome is Outcome.CURRENCY_RESTRICTED:
        return page_message(request, title=_("Currency not available"),
                            message=_("Sorry. Trading in %(currency)s is not available for this balance.")
                            % {"currency": balance.currency})
    if answer.outcome is Outcome.BLOCKED:
        return account_blocked(request)
    if answer.outcome is Outcome.RATE_LIMITED:
        return too_many_attempts(request, retry_after=answer.retry_after or 5)
    return trading_unavailable(request)


_login = auth_views.LoginView.as_view(redirect_authenticated_user=True)


def login(request):
    """Django's login, with attempts limited per client IP and per username (password guessing)."""
    if login_over_limit(request, "login", settings.B2B_LOGIN_RATE):
        return too_many_attempts(request)
    return _login(request)
