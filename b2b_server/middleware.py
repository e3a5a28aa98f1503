"""Pages (not the API, which maps its own errors) answer a database outage with 503, not 500."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

from b2b_server.exceptions import API_PREFIXES

log = logging.getLogger(__name__)

# Static on purpose: rendering a template would touch the session and the user, that is, the
# database that just failed.
_PAGE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>Temporarily unavailable</title></head><body><main><h1>Temporarily unavailable</h1>"
         "<p>The service is temporarily unavailable. Please try again in a minute.</p></main></body></html>")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)) and not request.path.startswith(API_PREFIXES):
            log.error("database unavailable on %s: %s", request.path, exception)
            return HttpResponse(_PAGE, status=503, headers={"Retry-After": "30"})
        return None
