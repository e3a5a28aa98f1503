"""What every back-office endpoint shares: the signed caller (integrations.auth), the role check,
strict JSON bodies, keyset cursors, and errors through the one mapping (b2b_server)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from b2b_server.error_handlers import error_parts
from b2b_server.errors import InvalidRequest
from b2b_server.parsers import StrictJSONParser, json_request_body
from integrations.auth import ApiCaller, api_caller
from integrations.errors import RoleRefused

PAGE_DEFAULT, PAGE_MAX = 100, 1000


# Answers through a lean `dispatch`, as the balance API does: the caller is checked first, then
# the role its key needs for this method (`needs`), then the handler runs with the caller. (A
# comment, not a docstring: drf-spectacular would print a docstring into every operation.)
class BackofficeApi(APIView):
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    http_method_names = ["get", "post", "patch", "delete", "head"]
    needs: dict[str, str] = {}  # method -> the permission (integrations.roles) a key must hold

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs, self.request = args, kwargs, request
        try:
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                raise MethodNotAllowed(request.method)
            caller = api_caller(request)
            needed = self.needs.get("GET" if request.method == "HEAD" else request.method)
            if needed is None or not caller.actor.holds(needed):
                raise RoleRefused(f"A {caller.key.role} key may not {request.method} this.")
            return handler(request, caller, *args, **kwargs)
        except Exception as exc:
            status, body, headers = error_parts(exc, self)
            return JsonResponse(body, status=status, headers=headers)


def body(request) -> dict:
    return json_request_body(request)


def string(data: dict, name: str, *, required: bool = True, max_length: int = 1000) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required.")
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string.")
    if len(value) > max_length:
        raise InvalidRequest(f"{name} must be at most {max_length} characters.")
    return value


def query_int(request, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest(f"{name} must be a whole number.")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        raise InvalidRequest(f"{name} must be between {minimum} and {maximum}.")
    return value


def query_time(request, name: str) -> dt.datetime | None:
    raw = request.GET.get(name)
    if not raw:
        return None
    moment = None
    try:
        moment = parse_datetime(raw)
    except ValueError:
        pass
    if moment is None:
        raise InvalidRequest(f"{name} must be an ISO 8601 time such as 2026-01-31T00:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def query_bool(request, name: str) -> bool | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        raise InvalidRequest(f"{name} must be true or false.")
    return raw == "true"


def _cursor_decode(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith("id:") or not text[3:].isdigit() or len(text) > 24:
        raise InvalidRequest("cursor is not a cursor this API gave.")
    return int(text[3:])


def _cursor_encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def page(request, queryset, render) -> dict:
    """One page of `queryset` in id order after the `cursor` given: {"results", "next"}, where
    `next` is the cursor of the following page, or null on the last one. Keyset, not offset:
    rows added meanwhile neither shift nor repeat a page."""
    after = _cursor_decode(request.GET.get("cursor"))
    limit = query_int(request, "limit", PAGE_DEFAULT, minimum=1, maximum=PAGE_MAX)
    rows = list(queryset.filter(pk__gt=after).order_by("pk")[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"results": [render(row) for row in rows], "next": _cursor_encode(rows[-1].pk) if more else None}


def ok(data: dict, status: int = 200, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(data, status=status, headers=headers)


__all__ = ["ApiCaller", "BackofficeApi", "body", "ok", "page", "query_bool", "query_int", "query_time", "string"]
