"""Celery tasks of the wallet: look up, call a service, log what matters."""

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from balances.services.checkpoints import checkpoints_make
from balances.verify import ledger_verify_recorded

log = logging.getLogger(__name__)


@shared_task
def ledger_checkpoint_nightly() -> int:
    """Checkpoint yesterday (UTC), then verify what came after the checkpoints."""
    run = checkpoints_make(day=timezone.now().date() - dt.timedelta(days=1))
    log.info("ledger checkpoints of %s: %s balances, %s entries", run.day, run.checkpoints, run.entries)
    return ledger_verify_nightly()


@shared_task
def ledger_verify_nightly(full: bool = False) -> int:
    """Verify the ledger (from the latest checkpoints; everything with full); each mismatch is
    logged at error level, and the run is recorded for the monitoring."""
    report = ledger_verify_recorded(full=full)
    for problem in report.problems:
        log.error("ledger_verify: balance %s: %s", problem.balance_id, problem.problem)
    if not report.problems:
        log.info("ledger_verify%s: OK (%s entries checked)", " --full" if full else "", report.entries_checked)
    return len(report.problems)
