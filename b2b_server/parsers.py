"""Strict JSON request bodies.

Stricter than json.loads: the body must be UTF-8, at most B2B_MAX_BODY_BYTES, a single JSON
object, with no duplicate keys (a proxy and we must never read different amounts from one
body), no NaN/Infinity, and no string that cannot be stored (NUL, lone surrogates).
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.parsers import BaseParser

from b2b_server.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType


def _reject_constant(name: str):
    raise InvalidRequest(f"{name} is not a JSON number.")


def _unique_object(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequest(f"Duplicate key {key!r} in the JSON body.")
        result[key] = value
    return result


def _check_strings(value: object) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest("Strings in the body must not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("Strings in the body must be valid Unicode (no lone surrogates).") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def parse_json_object(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The body must be UTF-8 encoded JSON.") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except InvalidRequest:
        raise
    except (ValueError, RecursionError):
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.")
    _check_strings(value)
    return value


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        limit = settings.B2B_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body must be at most {limit} bytes.")
        return parse_json_object(raw)


def json_request_body(request) -> dict:
    """The JSON object of a plain Django request: application/json in UTF-8, parsed strictly."""
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in {"utf-8", "utf8"}:
        raise UnsupportedMediaType()
    return StrictJSONParser().parse(request)
