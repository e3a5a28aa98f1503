"""Writing to the event log, and numbering it.

`event_record` appends an event in the caller's transaction (the change and its event commit
together or not at all). `events_sequence` gives the committed events that have none their
`sequence`, continuing from the highest given, in id order (which, within one balance, is the
order its movements committed in). One sequencer at a time (a transaction-level advisory lock;
a second caller returns at once), each batch one short transaction whose numbers become visible
together; on PostgreSQL it then NOTIFYs `b2b_events` with the last sequence given. A reader of
`sequence > N` therefore never misses an event: whatever commits later is numbered later.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max

from events.models import Event

CHANNEL = "b2b_events"  # NOTIFY payload: the highest sequence given
_LOCK = 0x62326265  # "b2be": the sequencer's advisory lock
BATCH = 5000

_SEQUENCE_SQL = f"""
WITH last AS (SELECT coalesce(max(sequence), 0) AS sequence FROM {Event._meta.db_table}),
batch AS (
    SELECT e.id, row_number() OVER (ORDER BY e.id) AS n
    FROM {Event._meta.db_table} e
    WHERE e.sequence IS NULL
    ORDER BY e.id LIMIT %(batch)s
)
UPDATE {Event._meta.db_table} e SET sequence = last.sequence + batch.n
FROM batch, last WHERE e.id = batch.id
RETURNING e.sequence
"""


def event_record(*, type: str, customer_id: str, balance_id: str = "", data: dict | None = None) -> None:
    """Append an event to the log, in the caller's transaction."""
    Event.objects.create(type=type, customer_id=customer_id, balance_id=balance_id, data=data or {})


@dataclass(frozen=True)
class Sequenced:
    count: int  # events numbered by this call
    last: int | None  # the highest sequence now given (None: this call did not look)


def events_sequence(*, batch: int = BATCH) -> Sequenced:
    """Number the events that can be numbered now (see the module's docstring)."""
    if connection.vendor != "postgresql":
        return _sequence_portable(batch)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK])
        if not cursor.fetchone()[0]:
            return Sequenced(count=0, last=None)  # another sequencer is at it
        cursor.execute(_SEQUENCE_SQL, {"batch": batch})
        given = [row[0] for row in cursor.fetchall()]
        if given:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(max(given))])
        last = max(given) if given else Event.objects.aggregate(last=Max("sequence"))["last"]
    return Sequenced(count=len(given), last=last)


def _sequence_portable(batch: int) -> Sequenced:
    with transaction.atomic():
        last = Event.objects.aggregate(last=Max("sequence"))["last"] or 0
        pending = list(Event.objects.filter(sequence__isnull=True).order_by("id").values_list("id", flat=True)[:batch])
        for n, pk in enumerate(pending, 1):
            Event.objects.filter(pk=pk).update(sequence=last + n)
    return Sequenced(count=len(pending), last=last + len(pending) if pending or last else None)
