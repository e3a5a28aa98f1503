from b2b_server.errors import DomainError


class ApiKeyNotFound(DomainError):
    code, http_status = "api_key_not_found", 404
    default_message = "There is no such API key."


class SignatureRefused(DomainError):
    code, http_status = "unauthorized", 401
    default_message = "The request is not signed by a live key (X-Api-Key, X-Timestamp, X-Nonce, X-Signature)."


class AddressRefused(DomainError):
    code, http_status = "forbidden", 403
    default_message = "This key may not be used from this address."


class RoleRefused(DomainError):
    code, http_status = "forbidden", 403
    default_message = "This key's role does not allow this call."
