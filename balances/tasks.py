"""Celery tasks of the wallet."""

import logging

from celery import shared_task

from balances.selectors import ledger_verify

log = logging.getLogger(__name__)


@shared_task
def ledger_verify_nightly() -> int:
    """Recompute every balance from its entries; each mismatch is logged at error level."""
    problems = ledger_verify()
    for problem in problems:
        log.error("ledger_verify: balance %s: %s", problem.balance_id, problem.problem)
    if not problems:
        log.info("ledger_verify: OK")
    return len(problems)
