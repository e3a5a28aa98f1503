"""Writes to the wallet; this package is the ledger's only writer.

- `ledger`: the one way to move money (Quadcode's debit and credit among it);
- `staff`: opening balances, staff adjustments, holds, releases and settlements, reversals.
"""

from balances.services.ledger import (
    LEDGER_ATTEMPTS,
    Posted,
    ledger_credit,
    ledger_debit,
    ledger_deposit,
)
from balances.services.staff import (
    balance_open,
    ledger_adjustment_post,
    ledger_hold,
    ledger_hold_release,
    ledger_hold_settle,
    ledger_reverse,
)

__all__ = ["LEDGER_ATTEMPTS", "Posted", "balance_open", "ledger_adjustment_post", "ledger_credit", "ledger_debit",
           "ledger_deposit", "ledger_hold", "ledger_hold_release", "ledger_hold_settle", "ledger_reverse"]
