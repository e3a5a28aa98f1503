"""OpenAPI shapes of the balance API, for drf-spectacular (documentation only: parsing is strict
and hand-written in balances.api, rendering is plain dicts; tests hold both to these shapes)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

_ERRORS = {
    400: "Bad request: the body (missing, not application/json, too large, not a JSON object), amount or "
         "currency is not valid; `error` tells which.",
    401: "The bearer token is missing or not valid.",
    402: "Insufficient funds.",
    403: "Access to server is forbidden (IP not allowed).",
    404: "The customer or the balance is not found.",
    409: "The request_id was already used for a different operation.",
    451: "The customer is not allowed access.",
}


class Error(serializers.Serializer):
    error = serializers.CharField(help_text="Stable error code.")
    message = serializers.CharField(help_text="Human readable description.")


class _Operation(serializers.Serializer):
    request_id = serializers.CharField(max_length=255, help_text="Request ID for request idempotency.")
    amount = serializers.CharField(help_text='Decimal string in the currency\'s minor units, e.g. "10.50".')
    currency_code = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217 currency code.")
    comment = serializers.CharField(max_length=1000, allow_blank=True)


class DebitRequest(_Operation):
    force = serializers.BooleanField(required=False, default=False,
                                     help_text="Subtract to zero if balance has insufficient funds.")


class CreditRequest(_Operation):
    pass


class BalanceResponse(serializers.Serializer):
    customer_id = serializers.CharField()
    balance_id = serializers.CharField()
    amount = serializers.CharField(help_text="Balance current amount.")
    currency_code = serializers.CharField()


class CreditResponse(serializers.Serializer):
    operation_id = serializers.IntegerField()
    customer_id = serializers.CharField()
    balance_id = serializers.CharField()
    amount = serializers.CharField()
    balance_current_amount = serializers.CharField()
    currency_code = serializers.CharField()


class DebitResponse(CreditResponse):
    realized_amount = serializers.CharField(help_text="Debited amount in fact; less than amount only with force.")


def responses(success: int, body: type[serializers.Serializer], *errors: int) -> dict:
    result = {success: body}
    for status in errors:
        result[status] = OpenApiResponse(Error, description=_ERRORS[status])
    return result
