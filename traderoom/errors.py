from b2b_server.errors import DomainError


class GatewayUnavailable(DomainError):
    code, http_status = "gateway_unavailable", 503
    default_message = "Trading is temporarily unavailable."
