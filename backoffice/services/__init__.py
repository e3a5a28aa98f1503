"""The staff's writes: money requests (four eyes, holds, approvals, reversals) and second factors."""

from backoffice.services.mfa import staff_mfa_enroll, staff_mfa_status
from backoffice.services.requests import (
    RequestOutcome,
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_requests_sweep,
    needs_four_eyes,
    operation_reverse,
    request_open,
)

__all__ = ["RequestOutcome", "adjustment_approve", "adjustment_reject", "adjustment_request",
           "adjustment_requests_sweep", "needs_four_eyes", "operation_reverse", "request_open", "staff_mfa_enroll",
           "staff_mfa_status"]
