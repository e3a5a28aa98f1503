"""The ledger's states on /metrics (read at scrape time; see b2b_server.metrics.state_gauge)."""

from b2b_server import metrics
from balances.models import VerifyRun
from balances.reports import liabilities


def _liabilities():
    return {(line.currency,): line.owed for line in liabilities()}


def _last_clean_verification():
    finished = VerifyRun.objects.filter(problems=0).order_by("-finished_at").values_list("finished_at", flat=True) \
        .first()
    return finished.timestamp() if finished else 0


def register() -> None:
    metrics.state_gauge("b2b_liabilities", "What the broker owes its customers (their balances, set-aside amounts "
                        "included), by currency.", _liabilities, labels=("currency",), ttl=30.0)
    metrics.state_gauge("b2b_ledger_verify_last_success_timestamp_seconds",
                        "When ledger_verify last finished without a mismatch (0: never).", _last_clean_verification)
