"""Money through the API, by the staff's rules (backoffice.services): a deposit, withdrawal or
correction asked for under an `Idempotency-Key`, posted at once or left pending for a second
party (four eyes, holds, the available-withdrawal amount, the audit trail); approved or rejected
by an approver key that did not ask for it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from b2b_server.errors import InvalidRequest
from backoffice.errors import RequestNotFound
from backoffice.models import AdjustmentRequest
from backoffice.services import adjustment_approve, adjustment_reject, adjustment_request
from balances.money import format_amount, parse_amount
from integrations import roles
from integrations.api import schema
from integrations.api.balances import balance_found
from integrations.api.base import BackofficeApi, body, ok, page, string

KINDS = ("deposit", "withdrawal", "correction_in", "correction_out")
IDEMPOTENCY_KEY_MAX_LENGTH = 150  # stored with the caller's key id in front, within the requests' 200


def request_view(request: AdjustmentRequest) -> dict:
    currency = request.currency
    return {"request_id": request.pk, "state": request.state, "kind": request.kind,
            "balance_id": request.balance.balance_id, "amount": format_amount(request.amount, currency),
            "currency_code": currency, "reason": request.reason, "operation_id": request.operation_id,
            "four_eyes": request.four_eyes, "requested_by": request.requested_by,
            "decided_by": request.decided_by or None, "decision_reason": request.decision_reason or None,
            "created_at": request.created_at.isoformat(),
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "expires_at": request.expires_at.isoformat() if request.expires_at else None}


def _request(request_id) -> AdjustmentRequest:
    found = AdjustmentRequest.objects.select_related("balance").filter(pk=request_id).first()
    if found is None:
        raise RequestNotFound(f"There is no request {request_id}.")
    return found


def _idempotency_key(request, caller) -> str:
    """The caller's key, kept apart from every other caller's (two keys' "1" are two requests)."""
    given = request.headers.get("Idempotency-Key", "")
    if not given.strip() or len(given) > IDEMPOTENCY_KEY_MAX_LENGTH or not given.isprintable():
        raise InvalidRequest(f"An Idempotency-Key header of 1-{IDEMPOTENCY_KEY_MAX_LENGTH} printable "
                             f"characters is required.")
    return f"api:{caller.key_id}:{given.strip()}"


class RequestListApi(BackofficeApi):
    needs = {"GET": roles.READ, "POST": roles.ADJUST}

    @extend_schema(operation_id="requests_list", summary="Money requests, oldest first (cursor-paginated).",
                   parameters=schema.REQUEST_FILTERS, responses=schema.responses(200, schema.RequestPage))
    def get(self, request, caller):
        requests = AdjustmentRequest.objects.select_related("balance")
        state = request.GET.get("state")
        if state:
            if state not in AdjustmentRequest.State.values:
                raise InvalidRequest(f"state must be one of {', '.join(AdjustmentRequest.State.values)}.")
            requests = requests.filter(state=state)
        if request.GET.get("balance_id"):
            requests = requests.filter(balance__balance_id=request.GET["balance_id"])
        return ok(page(request, requests, request_view))

    @extend_schema(operation_id="requests_create", summary="Ask for a deposit, withdrawal or correction. "
                   "The same Idempotency-Key with the same body gives the same answer; with another body, 409.",
                   parameters=[schema.IDEMPOTENCY_KEY], request=schema.MoneyRequest,
                   responses=schema.responses(201, schema.Request, 402, 404, 409, 451))
    def post(self, request, caller):
        key = _idempotency_key(request, caller)
        data = body(request)
        kind = string(data, "kind", max_length=20)
        if kind not in KINDS:
            raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}.")
        balance_id = string(data, "balance_id", max_length=64)
        balance = balance_found(balance_id)
        if "amount" not in data:
            raise InvalidRequest("amount is required.")
        amount = parse_amount(data["amount"], balance.currency)
        outcome = adjustment_request(balance_id=balance_id, kind=kind, amount=amount,
                                     reason=string(data, "reason", max_length=1000), key=key, actor=caller.actor)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return ok(request_view(_request(outcome.request_id)), status=201, headers=headers)


class RequestDetailApi(BackofficeApi):
    needs = {"GET": roles.READ}

    @extend_schema(operation_id="requests_read", summary="A money request and where it stands.",
                   responses=schema.responses(200, schema.Request, 404))
    def get(self, request, caller, request_id: int):
        return ok(request_view(_request(request_id)))


class RequestApproveApi(BackofficeApi):
    needs = {"POST": roles.APPROVE}

    @extend_schema(operation_id="requests_approve", summary="Approve a pending request (not the requester's "
                   "own); it is posted. Approving again changes nothing.", request=None,
                   responses=schema.responses(200, schema.Request, 403, 404, 409))
    def post(self, request, caller, request_id: int):
        adjustment_approve(request_id=request_id, actor=caller.actor)
        return ok(request_view(_request(request_id)))


class RequestRejectApi(BackofficeApi):
    needs = {"POST": roles.APPROVE}

    @extend_schema(operation_id="requests_reject", summary="Reject a pending request, releasing what it holds.",
                   request=schema.Reason, responses=schema.responses(200, schema.Request, 403, 404, 409))
    def post(self, request, caller, request_id: int):
        reason = string(body(request), "reason")
        adjustment_reject(request_id=request_id, actor=caller.actor, reason=reason)
        return ok(request_view(_request(request_id)))
