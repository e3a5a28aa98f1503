from b2b_server.errors import DomainError


class KeyConflict(DomainError):
    code, http_status = "key_conflict", 409
    default_message = "This idempotency key was used for a different request."


class RequestNotFound(DomainError):
    code, http_status = "request_not_found", 404
    default_message = "There is no such request."


class RequestNotPending(DomainError):
    code, http_status = "request_not_pending", 409
    default_message = "The request is no longer pending."


class OwnRequest(DomainError):
    code, http_status = "own_request", 403
    default_message = "A request must be approved or rejected by someone other than its requester."


class ExceedsAvailableAmount(DomainError):
    # The gateway's available-withdrawal-amount: open positions' collateral stays on the balance.
    code, http_status = "exceeds_available_amount", 402
    default_message = "The withdrawal exceeds what the customer may withdraw now."


class ErasureRefused(DomainError):
    # Forgetting a person who still has money with us would leave the broker unable to pay it out.
    code, http_status = "erasure_refused", 409
    default_message = "This customer cannot be erased now."
