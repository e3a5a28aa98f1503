"""The end user's pages: the trading room in an iframe, or a clear word on why not."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_ratelimit.core import is_ratelimited

from b2b_server.clientip import client_ip_text
from b2b_server.env import rate_parse
from balances.errors import BalanceNotFound
from balances.selectors import customer_balance
from customers.ids import is_country_code
from quadcode.gateway import Outcome
from quadcode.selectors import country_known_refused
from quadcode.services import Visitor
from traderoom.services import traderoom_session_open

log = logging.getLogger(__name__)
# What a shared cache that does not answer raises (Django's RedisCache: redis-py's errors).
_CACHE_DOWN = (redis.RedisError, OSError)


def _ip_key(group, request) -> str:
    return client_ip_text(request.META)


def _over_limit(request, group: str, limits: list[tuple[object, str, str]]) -> bool:
    """Count this request against each (key, setting name, rate) in the shared cache
    (django-ratelimit), the rate read in our one grammar (b2b_server.env).

    If the cache itself is down, the limits fail open — logged, not enforced — so that an outage
    of Redis never locks every user out of the trading room; the balance API does not use it.
    Any other failure is a bug and is not swallowed.
    """
    limited = False
    for key, setting, rate in limits:
        rate = rate_parse(rate, setting=setting).for_django_ratelimit()
        try:
            limited |= is_ratelimited(request, group=f"{group}:{key if isinstance(key, str) else key.__name__}",
                                      key=key, rate=rate, increment=True)
        except _CACHE_DOWN as exc:
            log.error("rate limiter unavailable, not limiting %s: %s", group, exc)
            return False
    return limited


def _visitor(request, customer) -> Visitor:
    country = ""
    if settings.B2B_COUNTRY_HEADER:
        header = "HTTP_" + settings.B2B_COUNTRY_HEADER.upper().replace("-", "_")
        country = request.META.get(header, "").strip().upper()
    if not is_country_code(country):
        country = customer.country_code
    return Visitor(country_code=country, ip=client_ip_text(request.META),
                   locale=translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE),
                   site_domain=settings.B2B_SITE_DOMAIN or request.get_host().rsplit(":", 1)[0])


def _message(request, *, title: str, message: str, status: int = 200, headers: dict | None = None):
    response = render(request, "traderoom/message.html", {"title": title, "message": message}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _country_restricted(request):
    return _message(request, title=_("Not available in your country"),
                    message=_("Sorry. Your current country is not allowed access to trading."))


def rate_limited(request, retry_after: int = 60):
    return _message(request, title=_("Too many attempts"),
                    message=_("Too many attempts, try again shortly."), status=429,
                    headers={"Retry-After": str(retry_after)})


@never_cache
@login_required
def traderoom(request):
    if _over_limit(request, "traderoom", [
            ("user", "B2B_TRADEROOM_RATE_PER_USER", settings.B2B_TRADEROOM_RATE_PER_USER),
            (_ip_key, "B2B_TRADEROOM_RATE_PER_IP", settings.B2B_TRADEROOM_RATE_PER_IP)]):
        return rate_limited(request)
    customer = getattr(request.user, "customer", None)
    request.customer_id = customer.customer_id if customer is not None else None  # for the request log
    if customer is None:
        return _message(request, title=_("No trading account"),
                        message=_("This login has no trading account. Please contact support."), status=403)
    try:
        balance = customer_balance(customer_id=customer.customer_id, balance_id=request.GET.get("balance_id"))
    except BalanceNotFound:
        return _message(request, title=_("No such balance"),
                        message=_("This balance does not exist on your account."), status=404)

    visitor = _visitor(request, customer)
    if country_known_refused(visitor.country_code):
        # The gateway's own list says no: answer at once, without a round trip to it.
        return _country_restricted(request)
    answer = traderoom_session_open(customer=customer, balance=balance, visitor=visitor)
    if answer.outcome is Outcome.OK:
        response = render(request, "traderoom/room.html", {"url": answer.url, "balance": balance})
        parts = urlsplit(answer.url)
        response._csp_replace = {"frame-src": [f"{parts.scheme}://{parts.netloc}"]}
        return response
    if answer.outcome is Outcome.COUNTRY_RESTRICTED:
        return _country_restricted(request)
    if answer.outcome is Outcome.CURRENCY_RESTRICTED:
        return _message(request, title=_("Currency not available"),
                        message=_("Sorry. Trading in %(currency)s is not available for this balance.")
                        % {"currency": balance.currency})
    if answer.outcome is Outcome.BLOCKED:
        return _message(request, title=_("Account blocked"),
                        message=_("Sorry. Your account is blocked. Please contact support."))
    if answer.outcome is Outcome.RATE_LIMITED:
        return rate_limited(request, retry_after=answer.retry_after or 5)
    return _message(request, title=_("Trading unavailable"),
                    message=_("Trading is temporarily unavailable. Please try again in a few minutes."),
                    status=503, headers={"Retry-After": "30"})


_login = auth_views.LoginView.as_view(redirect_authenticated_user=True)


def login(request):
    """Django's login, with attempts limited per client IP and per username (password guessing)."""
    if request.method == "POST" and _over_limit(request, "login", [
            (_ip_key, "B2B_LOGIN_RATE", settings.B2B_LOGIN_RATE),
            ("post:username", "B2B_LOGIN_RATE", settings.B2B_LOGIN_RATE)]):
        return rate_limited(request)
    return _login(request)
