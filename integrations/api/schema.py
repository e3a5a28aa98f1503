"""OpenAPI shapes of the back-office API (documentation only: parsing is strict and hand-written
in the views, rendering is plain dicts; tests hold both to these shapes). Its own schema, apart
from the balance API's: /backoffice/v1/schema/."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

_ERRORS = {
    400: "Bad request: the body, a field or a query parameter is not valid; `error` tells which.",
    401: "Not signed by a live key: a header missing, unknown or revoked key, timestamp outside the window, "
         "signature not matching, or a nonce used before.",
    402: "Insufficient funds, or more than may be withdrawn now.",
    403: "The key may not be used from this address, or its role does not allow this call.",
    404: "Not found.",
    409: "Conflict: exists already, the Idempotency-Key was used with another body, or not pending.",
    410: "The customer was erased.",
    429: "Too many calls for this key; see Retry-After.",
    451: "The customer is blocked.",
    503: "Temporarily unavailable (nonces cannot be checked, the database is busy); nothing was done.",
}


class Error(serializers.Serializer):
    error = serializers.CharField(help_text="Stable error code.")
    message = serializers.CharField(help_text="Human readable description.")


def responses(status: int, shape, *errors: int) -> dict:
    found = {status: shape}
    for code in sorted({*errors, 400, 401, 403, 429, 503}):
        found[code] = OpenApiResponse(Error, description=_ERRORS[code])
    return found


class Reason(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class _Profile(serializers.Serializer):
    first_name = serializers.CharField(required=False, allow_blank=True)
    middle_name = serializers.CharField(required=False, allow_blank=True)
    last_name = serializers.CharField(required=False, allow_blank=True)
    phone_number = serializers.CharField(required=False, allow_blank=True)
    account_timezone = serializers.CharField(required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)


class CustomerCreate(_Profile):
    customer_id = serializers.CharField(max_length=64)
    email = serializers.EmailField()
    country_code = serializers.CharField(min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2.")
    signup_ip = serializers.IPAddressField(required=False, help_text="Sent when pre-registering at the gateway.")


class CustomerUpdate(_Profile):
    email = serializers.EmailField(required=False)
    country_code = serializers.CharField(required=False, min_length=2, max_length=2)


class CustomerSummary(serializers.Serializer):
    customer_id = serializers.CharField()
    country_code = serializers.CharField()
    blocked = serializers.BooleanField()
    erased = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class Customer(CustomerSummary, _Profile):
    email = serializers.CharField(help_text='"" once the customer was erased.')


class BalanceOpen(serializers.Serializer):
    customer_id = serializers.CharField()
    balance_id = serializers.CharField()
    currency_code = serializers.CharField(min_length=3, max_length=3)
    type = serializers.ChoiceField(choices=["real", "demo"], required=False, default="real")


class Balance(serializers.Serializer):
    balance_id = serializers.CharField()
    customer_id = serializers.CharField()
    currency_code = serializers.CharField()
    type = serializers.CharField()
    amount = serializers.CharField(help_text="What the customer owns: available + held.")
    held = serializers.CharField(help_text="Set aside for pending withdrawals.")
    available = serializers.CharField(help_text="What Quadcode sees and the customer may use.")
    created_at = serializers.DateTimeField()


class Entry(serializers.Serializer):
    entry_id = serializers.IntegerField()
    operation_id = serializers.IntegerField()
    request_id = serializers.CharField()
    kind = serializers.CharField()
    amount = serializers.CharField()
    realized_amount = serializers.CharField()
    balance_after = serializers.CharField()
    currency_code = serializers.CharField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class MoneyRequest(serializers.Serializer):
    balance_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["deposit", "withdrawal", "correction_in", "correction_out"])
    amount = serializers.CharField(help_text='Decimal string, e.g. "10.50".')
    reason = serializers.CharField(max_length=1000)


class Request(serializers.Serializer):
    request_id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["new", "pending", "approved", "posted", "rejected", "expired"])
    kind = serializers.CharField()
    balance_id = serializers.CharField()
    amount = serializers.CharField()
    currency_code = serializers.CharField()
    reason = serializers.CharField()
    operation_id = serializers.IntegerField(allow_null=True, help_text="The ledger operation, once posted.")
    four_eyes = serializers.BooleanField()
    requested_by = serializers.CharField()
    decided_by = serializers.CharField(allow_null=True)
    decision_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class Event(serializers.Serializer):
    sequence = serializers.IntegerField(help_text="1, 2, 3, … in commit order, never a gap.")
    type = serializers.CharField(help_text="ledger.entry, request.pending|approved|posted|rejected|expired, "
                                           "customer.blocked|unblocked|erased")
    time = serializers.DateTimeField()
    customer_id = serializers.CharField()
    balance_id = serializers.CharField(allow_null=True)
    data = serializers.DictField()


def _page(name: str, item) -> type[serializers.Serializer]:
    return type(name, (serializers.Serializer,), {
        "results": item(many=True),
        "next": serializers.CharField(allow_null=True, help_text="The `cursor` of the next page; null on the last."),
    })


CustomerPage = _page("CustomerPage", CustomerSummary)
BalancePage = _page("BalancePage", Balance)
EntryPage = _page("EntryPage", Entry)
RequestPage = _page("RequestPage", Request)


class EventPage(serializers.Serializer):
    results = Event(many=True)
    next = serializers.IntegerField(help_text="The `after` of the next call.")
    more = serializers.BooleanField()


class FeedToken(serializers.Serializer):
    token = serializers.CharField(help_text='Send {"jwt": "Bearer <token>"} as the first WebSocket message.')
    expires_in = serializers.IntegerField()


def _query(name: str, kind, text: str) -> OpenApiParameter:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, required=False, description=text)


PAGE = [_query("cursor", OpenApiTypes.STR, "From a previous page's `next`."),
        _query("limit", OpenApiTypes.INT, "1-1000, default 100.")]
CUSTOMER_FILTERS = [*PAGE, _query("blocked", OpenApiTypes.BOOL, "true or false."),
                    _query("country_code", OpenApiTypes.STR, "ISO 3166-1 alpha-2."),
                    _query("created_from", OpenApiTypes.DATETIME, "Created at or after."),
                    _query("created_to", OpenApiTypes.DATETIME, "Created before.")]
ENTRY_FILTERS = [*PAGE, _query("from", OpenApiTypes.DATETIME, "At or after."),
                 _query("to", OpenApiTypes.DATETIME, "Before.")]
REQUEST_FILTERS = [*PAGE, _query("state", OpenApiTypes.STR, "pending, posted, …"),
                   _query("balance_id", OpenApiTypes.STR, "One balance's requests.")]
EVENT_FILTERS = [_query("after", OpenApiTypes.INT, "The last sequence seen (0: from the start)."),
                 _query("limit", OpenApiTypes.INT, "1-5000, default 500.")]
IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                                   description="Yours, up to 150 characters; a retry sends the same.")

_SIGNED = ("Every request carries `X-Api-Key`, `X-Timestamp` (Unix ms), `X-Nonce` (random, ≥ 16 characters) and "
           "`X-Signature` = lowercase hex HMAC-SHA256, keyed with the secret (UTF-8), over "
           "key id + timestamp + nonce followed by the payload: the raw query string (without `?`) for GET and "
           "DELETE, the raw body otherwise. See the README's recipe.")

SCHEMA_SETTINGS = {
    "TITLE": "B2B back-office API",
    "DESCRIPTION": "The broker's systems: customers, balances, money requests under the staff's rules, and the "
                   "event log. " + _SIGNED,
    "VERSION": "1.0",
    "SCHEMA_PATH_PREFIX": "/backoffice/v1",
    "PREPROCESSING_HOOKS": ["b2b_server.schema_hooks.only_backoffice"],
    "APPEND_COMPONENTS": {"securitySchemes": {
        name: {"type": "apiKey", "in": "header", "name": name}
        for name in ("X-Api-Key", "X-Timestamp", "X-Nonce", "X-Signature")}},
    "SECURITY": [{"X-Api-Key": [], "X-Timestamp": [], "X-Nonce": [], "X-Signature": []}],
}
