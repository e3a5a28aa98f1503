from __future__ import annotations

from b2b_server.errors import DomainError, InvalidRequest


class AmountInvalid(InvalidRequest):
    code = "invalid_amount"


class CurrencyUnknown(InvalidRequest):
    code = "invalid_currency"


class CurrencyMismatch(InvalidRequest):
    code = "currency_mismatch"


class AmountOutOfRange(InvalidRequest):
    code = "amount_out_of_range"
    default_message = "The operation would take the balance outside the amounts this server can hold."


class BalanceNotFound(DomainError):
    code, http_status = "balance_not_found", 404
    default_message = "The customer or the balance is not found."


class BalanceExists(DomainError):
    code, http_status = "balance_exists", 409
    default_message = "A balance with this id already exists."


class CustomerBlocked(DomainError):
    # 451 is what the contract documents for "The customer is not allowed access".
    code, http_status = "customer_blocked", 451
    default_message = "The customer is not allowed access."


class InsufficientFunds(DomainError):
    code, http_status = "insufficient_funds", 402
    default_message = "The balance has insufficient funds for this debit."


class RequestIdConflict(DomainError):
    code, http_status = "request_id_conflict", 409
    default_message = "This request_id was already used for a different operation."


class HoldNotFound(DomainError):
    code, http_status = "hold_not_found", 404
    default_message = "There is no such hold."


class OperationNotReversible(DomainError):
    code, http_status = "not_reversible", 409
    default_message = "Only a posted staff adjustment can be reversed."


class AlreadyReversed(DomainError):
    code, http_status = "already_reversed", 409
    default_message = "This operation has been reversed already."
