"""The outbox's state on /metrics (read at scrape time; see b2b_server.metrics.state_gauge)."""

from b2b_server import metrics
from quadcode.selectors import gateway_calls_oldest_pending_seconds, gateway_calls_pending_count


def register() -> None:
    metrics.state_gauge("b2b_outbox_pending", "Calls owed to Quadcode's gateway, not delivered yet.",
                        gateway_calls_pending_count)
    metrics.state_gauge("b2b_outbox_oldest_pending_seconds",
                        "Age of the oldest call owed to the gateway (0: none pending).",
                        gateway_calls_oldest_pending_seconds)
