from b2b_server.errors import DomainError


class SecondFactorMissing(DomainError):
    code, http_status = "second_factor_required", 403
    default_message = "Set up a second factor first (Account security)."


class CodeRefused(DomainError):
    # Wrong, reused (a code is good once), or tried too soon after a wrong one.
    code, http_status = "wrong_code", 403
    default_message = "The code is wrong or was used already; wait for the next one."
