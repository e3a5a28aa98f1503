"""Cross-cutting request handling: one log line and the metrics per request; a 503 page when
the database is down."""

from __future__ import annotations

import logging
import time

from csp.middleware import CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware
from django_otp.middleware import OTPMiddleware

from b2b_server import metrics
from b2b_server.clientip import client_ip_text
from b2b_server.db import transient_failure
from b2b_server.error_handlers import API_PREFIXES
from b2b_server.jsonresponse import json_line
from b2b_server.logmask import ip_masked

log = logging.getLogger(__name__)
request_log = logging.getLogger("b2b.request")


class RequestLogMiddleware:
    """One structured line per request: method, path, status, duration, customer_id, the
    operation's request_id and the client IP (a page visitor's cut to its network: logmask).
    Never a token, never an email address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        endpoint = match.url_name if match is not None and match.url_name else "unmatched"
        metrics.request_observe(endpoint, request.method, response.status_code, duration)
        customer_id = match.kwargs.get("customer_id") if match is not None else None
        if request_log.isEnabledFor(logging.INFO):
            client_ip = client_ip_text(request.META)
            # Serialized here rather than by a logging formatter: this runs on every request,
            # and orjson of a flat dict costs a fraction of a generic JSON formatter.
            request_log.info(json_line({
                "time": round(time.time(), 3), "method": request.method, "path": request.path,
                "status": response.status_code, "duration_ms": round(duration * 1000, 2),
                "customer_id": customer_id or getattr(request, "customer_id", None),
                "request_id": getattr(request, "operation_request_id", None),
                # A visitor's address (a person's) to its network; the API's callers (servers) whole.
                "client_ip": client_ip if request.path_info.startswith(API_PREFIXES) else ip_masked(client_ip),
            }))
        return response


class PagesOnlyMixin:
    """Runs a middleware for pages only. The machine-to-machine JSON API has no session, user,
    messages or language, and a CSP means nothing on JSON; together these cost ~0.2 ms of CPU
    per request, a fifth of the balance API's whole budget. The subclasses stay
    subclasses of Django's own, so every check and hook that looks for them still finds them
    (CSRF protection is left untouched on purpose). `pages_only` keeps them off the balance
    API's fast way altogether (b2b_server.handler)."""

    pages_only = True

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)


class PageSessionMiddleware(PagesOnlyMixin, SessionMiddleware):
    pass


class PageLocaleMiddleware(PagesOnlyMixin, LocaleMiddleware):
    pass


class PageAuthenticationMiddleware(PagesOnlyMixin, AuthenticationMiddleware):
    pass


class PageOTPMiddleware(PagesOnlyMixin, OTPMiddleware):
    """request.user.is_verified(): whether this session passed its second factor (django-otp)."""


class PageMessageMiddleware(PagesOnlyMixin, MessageMiddleware):
    pass


class PageCSPMiddleware(PagesOnlyMixin, CSPMiddleware):
    pass


# Static on purpose: rendering a template would touch the session and the user, that is, the
# database that just failed.
_PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>Temporarily unavailable</title></head><body><main><h1>Temporarily unavailable</h1>"
         "<p>The service is temporarily unavailable. Please try again in a minute.</p></main></body></html>")


class DatabaseUnavailableMiddleware:
    """A static 503 page when a page's request fails on the database; API paths answer their own
    JSON 503 (b2b_server.error_handlers)."""

    pages_only = True

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        failure = transient_failure(exception)
        if failure is not None and not request.path.startswith(API_PREFIXES):
            log.error("%s on %s: %s", failure, request.path, exception)
            return HttpResponse(_PAGE, status=503, headers={"Retry-After": "30"})
        return None
