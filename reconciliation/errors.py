from b2b_server.errors import DomainError, InvalidRequest


class ReportInvalid(InvalidRequest):
    code = "report_invalid"
    default_message = "The report cannot be read."


class BreakNotFound(DomainError):
    code, http_status = "break_not_found", 404
    default_message = "There is no such break."


class BreakResolved(DomainError):
    code, http_status = "break_resolved", 409
    default_message = "This break is resolved already."
