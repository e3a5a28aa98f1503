from b2b_server.errors import DomainError, InvalidRequest


class CustomerNotFound(DomainError):
    code, http_status = "customer_not_found", 404
    default_message = "The customer is not found."


class CustomerExists(DomainError):
    code, http_status = "customer_exists", 409
    default_message = "A customer with this id already exists."


class CustomerInvalid(InvalidRequest):
    code = "invalid_customer"


class CustomerErased(DomainError):
    # The person asked to be forgotten: their record stays (their money's history), their data do not.
    code, http_status = "customer_erased", 410
    default_message = "This customer was erased."
