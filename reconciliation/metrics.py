"""Reconciliation's state on /metrics (read at scrape time; see b2b_server.metrics.state_gauge)."""

from b2b_server import metrics
from reconciliation.selectors import open_breaks_by_kind


def register() -> None:
    metrics.state_gauge("b2b_reconciliation_breaks", "Breaks with Quadcode's report not resolved yet, by kind.",
                        lambda: {(kind,): n for kind, n in open_breaks_by_kind().items()}, labels=("kind",))
