"""The event log's state on /metrics: how far numbering lags (a stuck sequencer shows here)."""

from b2b_server import metrics
from events.selectors import event_last_sequence, events_unsequenced_count


def register() -> None:
    metrics.state_gauge("b2b_events_unsequenced", "Committed events not numbered yet (readers cannot see them).",
                        events_unsequenced_count)
    metrics.state_gauge("b2b_events_last_sequence", "The highest sequence number given in the event log.",
                        event_last_sequence)
