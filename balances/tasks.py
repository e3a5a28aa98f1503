"""Celery tasks of the wallet: look up, call a service, log what matters."""

import datetime as dt
import logging
import subprocess
import sys

from celery import shared_task
from django.conf import settings
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


@shared_task
def ledger_partitions_task() -> None:
    """Make next months' partitions: `manage.py ledger_partitions` in its own process, which
    connects as the schema's owner (DATABASE_MIGRATE_URL); the worker's role may not."""
    result = subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), "ledger_partitions", "--check"],
                            capture_output=True, text=True, timeout=600)
    for line in result.stdout.splitlines():
        log.info("ledger_partitions: %s", line)
    if result.returncode != 0:
        log.error("ledger_partitions failed (exit %s): %s", result.returncode, result.stderr.strip()[-2000:])
