"""The event log: what happened to the money and the people, in the order it became true.

Writers append an `Event` in the same transaction as the change it describes (a ledger entry's
event is appended by a trigger on the entries table, so no path that writes an entry can forget
it). An event has no `sequence` when written: ids are handed out while transactions run, and
they commit in another order, so a reader going by id could read 7, then miss 6 committing a
moment later. The sequencer (events.services.events_sequence) numbers events once they are
committed, one batch at a time, so a reader going by `sequence` never skips one: a sequence,
once visible, is final and has no gap before it, and an event committed late simply gets a
later number.
"""

from django.db import models


class Event(models.Model):
    # Handed out when the writing transaction appends the event. Events of one balance get theirs
    # while its row is locked, so among them id order is commit order; the sequencer keeps it.
    id = models.BigAutoField(primary_key=True)
    # The public order: 1, 2, 3, … with no gap, given by the sequencer.
    sequence = models.BigIntegerField(null=True, unique=True)
    type = models.CharField(max_length=40)
    time = models.DateTimeField(db_default=models.functions.Now())
    # For scoping a feed to one customer (their own events only): event_customer_sequence.
    customer_id = models.CharField(max_length=64)
    balance_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["id"], condition=models.Q(sequence__isnull=True), name="event_unsequenced"),
                   models.Index(fields=["customer_id", "sequence"], name="event_customer_sequence")]

    def __str__(self) -> str:
        return f"{self.sequence or '-'} {self.type}"
