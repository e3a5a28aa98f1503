"""The plain message pages every page app answers with: a title and a sentence, the status and
headers that go with them (the trading room's and the account pages' words are the same)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _


def page_message(request, *, title: str, message: str, status: int = 200, headers: dict | None = None):
    response = render(request, "message.html", {"title": title, "message": message}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def too_many_attempts(request, retry_after: int = 60):
    return page_message(request, title=_("Too many attempts"), message=_("Too many attempts, try again shortly."),
                        status=429, headers={"Retry-After": str(retry_after)})


def country_restricted(request):
    return page_message(request, title=_("Not available in your country"),
                        message=_("Sorry. Your current country is not allowed access to trading."))


def account_blocked(request):
    return page_message(request, title=_("Account blocked"),
                        message=_("Sorry. Your account is blocked. Please contact support."))


def trading_unavailable(request):
    return page_message(request, title=_("Trading unavailable"),
                        message=_("Trading is temporarily unavailable. Please try again in a few minutes."),
                        status=503, headers={"Retry-After": "30"})


def no_trading_account(request):
    return page_message(request, title=_("No trading account"),
                        message=_("This login has no trading account. Please contact support."), status=403)
