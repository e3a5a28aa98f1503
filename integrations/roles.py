"""What each API key role may do, as the permission names the services check (an API key's
`Actor` carries its role's grants; people's permissions are their logins')."""

from __future__ import annotations

READ = "integrations.read"
CUSTOMERS_WRITE = "integrations.customers_write"
BALANCES_OPEN = "integrations.balances_open"
ADJUST = "balances.adjust_balance"  # ask to move money (the staff's permission of the same name)
APPROVE = "balances.approve_adjustment"  # decide another's request

# Operators ask, approvers decide: no role does both, so four eyes always means two keys (or a
# key and a person), whatever else the checks below them do.
GRANTS: dict[str, frozenset[str]] = {
    "reader": frozenset({READ}),
    "operator": frozenset({READ, CUSTOMERS_WRITE, BALANCES_OPEN, ADJUST}),
    "approver": frozenset({READ, APPROVE}),
}
