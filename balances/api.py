"""The balance API Quadcode's servers call (contract/balance-api.yaml and its margin draft).

Its rules, by name, checked in this order (the README and the tests use the same names):
"IP allowlist" (403), "token" (401), "per-customer limit" (429), "body" (400), "lookup" (404),
"blocked" (451; not for credits) and "funds" (402).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from b2b_server import metrics
from b2b_server.clientip import client_allowed
from b2b_server.error_handlers import error_parts
from b2b_server.errors import ClientForbidden, InvalidRequest, RateLimited
from b2b_server.jsonresponse import json_response
from b2b_server.parsers import StrictJSONParser, json_request_body
from b2b_server.ratelimit import shared_limit
from balances import schema, services
from balances.auth import verify_quadcode_token
from balances.models import REQUEST_ID_MAX_LENGTH
from balances.money import currency_exponent, format_amount, parse_amount
from balances.selectors import balance_get
from customers.ids import is_external_id

COMMENT_MAX_LENGTH = 1000


def _customer_over_limit(customer_id: str) -> None:
    """The "per-customer limit" rule: 429 once Quadcode's calls for one customer pass
    B2B_API_RATE_PER_CUSTOMER, counted across all web processes. Checked after the token, so that
    nobody else can use up a customer's budget."""
    rate = settings.B2B_API_RATE_PER_CUSTOMER
    if not rate:
        return
    # An id that cannot exist is answered 404 later; such ids share one counter, not one each.
    key = customer_id if is_external_id(customer_id) else "-"
    retry_after = shared_limit(rate, settings.REDIS_URL, "api-customer").retry_after(key)
    if retry_after is not None:
        raise RateLimited(retry_after, f"Too many calls for this customer; retry in {retry_after} s.")


class QuadcodeApi(APIView):
    """Base of the endpoints Quadcode calls: the "IP allowlist" rule first (403), then "token" (401)
    and the "per-customer limit" (429); each endpoint then applies the rest.

    These views are DRF views for their documentation (drf-spectacular reads the declarations
    below) but answer through a lean `dispatch`: a machine-to-machine JSON API needs none of
    DRF's request wrapper, content negotiation, authentication classes or renderers, and they
    cost about a sixth of each request's CPU on the hot path. Errors still go through the one
    mapping in b2b_server.error_handlers.
    """

    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    http_method_names = ["get", "post", "head"]
    ledger_kind: str | None = None  # "debit"/"credit": outcomes counted in b2b_ledger_operations

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs, self.request = args, kwargs, request
        try:
            if not client_allowed(request.META):
                raise ClientForbidden()
            verify_quadcode_token(request.META.get("HTTP_AUTHORIZATION"))
            _customer_over_limit(kwargs.get("customer_id", ""))
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                raise MethodNotAllowed(request.method)
            response = handler(request, *args, **kwargs)
            outcome = "replayed" if response.has_header("Idempotent-Replayed") else "applied"
        except Exception as exc:
            status, body, headers = error_parts(exc, self)
            response, outcome = json_response(body, status=status, headers=headers), body["error"]
        if self.ledger_kind and request.method == "POST":
            metrics.ledger_operations.labels(self.ledger_kind, outcome).inc()
        return response


@dataclass(frozen=True)
class OperationRequest:
    request_id: str
    amount: Decimal
    currency: str
    comment: str
    force: bool


def _string(data: dict, name: str, max_length: int, *, allow_empty: bool = False) -> str:
    value = data.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is required.")
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string.")
    if not value and not allow_empty:
        raise InvalidRequest(f"{name} must not be empty.")
    if len(value) > max_length:
        raise InvalidRequest(f"{name} must be at most {max_length} characters.")
    return value


def parse_operation(data: dict, *, with_force: bool) -> OperationRequest:
    """The "body" rule for a debit or credit. Unknown fields are ignored (the contract grows)."""
    request_id = _string(data, "request_id", REQUEST_ID_MAX_LENGTH)
    if not request_id.isprintable():
        raise InvalidRequest("request_id must not contain control characters.")
    currency = _string(data, "currency_code", 3)
    currency_exponent(currency)
    if "amount" not in data:
        raise InvalidRequest("amount is required.")
    amount = parse_amount(data["amount"], currency)
    comment = _string(data, "comment", COMMENT_MAX_LENGTH, allow_empty=True)
    force = data.get("force", False) if with_force else False
    if not isinstance(force, bool):
        raise InvalidRequest("force must be true or false.")
    return OperationRequest(request_id=request_id, amount=amount, currency=currency, comment=comment, force=force)


def _posted_response(posted: services.Posted, *, with_realized: bool) -> HttpResponse:
    body = {
        "operation_id": posted.operation_id,
        "customer_id": posted.customer_id,
        "balance_id": posted.balance_id,
        "amount": format_amount(posted.amount, posted.currency),
    }
    if with_realized:
        body["realized_amount"] = format_amount(posted.realized_amount, posted.currency)
    body["balance_current_amount"] = format_amount(posted.balance_after, posted.currency)
    body["currency_code"] = posted.currency
    # Same status and body as the first answer; the header only tells operators it was a replay.
    headers = {"Idempotent-Replayed": "true"} if posted.replayed else None
    return json_response(body, status=201, headers=headers)


class BalanceDetailApi(QuadcodeApi):
    @extend_schema(operation_id="balance_get", summary="Get the customer balance amount.",
                   responses=schema.responses(200, schema.BalanceResponse, 401, 403, 404, 451))
    def get(self, request, customer_id: str, balance_id: str) -> HttpResponse:
        balance = balance_get(customer_id=customer_id, balance_id=balance_id)
        return json_response({
            "customer_id": balance.customer_id,
            "balance_id": balance.balance_id,
            "amount": format_amount(balance.amount, balance.currency),
            "currency_code": balance.currency,
        })


class BalanceDebitApi(QuadcodeApi):
    ledger_kind = "debit"

    @extend_schema(operation_id="balance_debit", summary="Debit funds.", request=schema.DebitRequest,
                   responses=schema.responses(201, schema.DebitResponse, 400, 401, 402, 403, 404, 409, 451))
    def post(self, request, customer_id: str, balance_id: str) -> HttpResponse:
        op = parse_operation(json_request_body(request), with_force=True)
        request.operation_request_id = op.request_id
        posted = services.ledger_debit(customer_id=customer_id, balance_id=balance_id, request_id=op.request_id,
                                       amount=op.amount, currency=op.currency, comment=op.comment, force=op.force)
        return _posted_response(posted, with_realized=True)


class BalanceCreditApi(QuadcodeApi):
    ledger_kind = "credit"

    @extend_schema(operation_id="balance_credit", summary="Credit funds.", request=schema.CreditRequest,
                   responses=schema.responses(201, schema.CreditResponse, 400, 401, 403, 404, 409, 451))
    def post(self, request, customer_id: str, balance_id: str) -> HttpResponse:
        op = parse_operation(json_request_body(request), with_force=False)
        request.operation_request_id = op.request_id
        posted = services.ledger_credit(customer_id=customer_id, balance_id=balance_id, request_id=op.request_id,
                                        amount=op.amount, currency=op.currency, comment=op.comment)
        return _posted_response(posted, with_realized=False)
