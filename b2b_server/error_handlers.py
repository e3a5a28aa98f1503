"""The one place where errors become responses: `{"error": code, "message": text}`.

DRF views come through `api_exception_handler`; Django-level failures on API paths (unknown
URL, bad Host header, an unexpected exception) come through the `handler*` views, so that no
request to the API is ever answered with an HTML page or a traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response

from b2b_server.db import transient_failure
from b2b_server.errors import DomainError, LockTimeout, ServiceUnavailable

log = logging.getLogger(__name__)

API_PREFIXES = ("/v1/", "/api/", "/backoffice/v1/")

_DRF_CODES = {
    drf.ParseError: "invalid_request",
    drf.AuthenticationFailed: "unauthorized",
    drf.NotAuthenticated: "unauthorized",
    drf.PermissionDenied: "forbidden",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
}


def error_body(code: str, message: str) -> dict:
    return {"error": code, "message": message}


def error_parts(exc: Exception, view=None) -> tuple[int, dict, dict]:
    """(status, body, headers) for any exception raised while answering an API request."""
    failure = transient_failure(exc)
    if failure is not None:
        # Nothing was applied (the statement or its transaction rolled back); the caller may retry.
        log.error("%s: %s", failure, exc)
        exc = LockTimeout() if failure == "lock timeout" else ServiceUnavailable()
    if isinstance(exc, DomainError):
        return exc.http_status, error_body(exc.code, exc.message), exc.headers()
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.APIException):
        code = next((code for cls, code in _DRF_CODES.items() if isinstance(exc, cls)), "invalid_request")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, drf.MethodNotAllowed) and view is not None:
            headers["Allow"] = ", ".join(view.allowed_methods)
        detail = exc.detail if isinstance(exc.detail, str) else "The request is not valid."
        return exc.status_code, error_body(code, str(detail)), headers
    if isinstance(exc, DatabaseError):
        log.exception("database error")
    else:
        log.exception("unexpected error")
    return 500, error_body("internal_error", "The server failed to process the request."), {}


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER (the schema views and any other DRF view)."""
    status, body, headers = error_parts(exc, context.get("view"))
    return Response(body, status=status, headers=headers)


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("invalid_request", "The request is not valid."), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("forbidden", "Access to server is forbidden."), status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "There is no such resource."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(error_body("internal_error", "The server failed to process the request."), status=500)
    return defaults.server_error(request)
