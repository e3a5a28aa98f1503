"""The sequencer as a beat task (readers number events too; this keeps the log numbered when
nobody reads)."""

from celery import shared_task

from events.services import events_sequence


@shared_task(ignore_result=True)
def events_sequence_task() -> int:
    total = 0
    while (done := events_sequence().count):
        total += done
    return total
