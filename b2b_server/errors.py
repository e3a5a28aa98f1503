"""The one root of every error a client may see.

Each app's `errors.py` subclasses `DomainError` with a stable `code` and an `http_status`;
`b2b_server.error_handlers.api_exception_handler` turns any of them into
`{"error": code, "message": text}` with that status. Views never build error responses.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    http_status = 400
    default_message = "The request cannot be processed."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(DomainError):
    code, http_status = "invalid_request", 400
    default_message = "The request body is not valid."


# Body problems of every kind are 400, the one status the contract documents for a bad request;
# their codes tell them apart.
class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(InvalidRequest):
    code = "unsupported_media_type"
    default_message = "The request body must be application/json."


class ClientForbidden(DomainError):
    code, http_status = "forbidden", 403
    default_message = "Access to server is forbidden."


class Unauthenticated(DomainError):
    code, http_status = "unauthorized", 401
    default_message = "A valid bearer token is required."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="b2b", error="invalid_token"'}


class RateLimited(DomainError):
    code, http_status = "rate_limited", 429
    default_message = "Too many requests; retry after the time in Retry-After."

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(DomainError):
    code, http_status = "service_unavailable", 503
    default_message = "The service is temporarily unavailable; retry shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class LockTimeout(ServiceUnavailable):
    # A row stayed locked past DATABASE_LOCK_TIMEOUT (a very busy balance): nothing was applied.
    code = "lock_timeout"
    default_message = "The balance is busy; nothing was applied, retry shortly."
