"""Reading the event log by sequence: what a cursor (`after`) has not seen yet, oldest first."""

from __future__ import annotations

from django.db.models import Max

from events.models import Event


def events_after(*, after: int, limit: int = 500, customer_id: str | None = None) -> list[Event]:
    """Numbered events with sequence > `after`, in sequence order (only `customer_id`'s if given)."""
    events = Event.objects.filter(sequence__gt=after).order_by("sequence")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events[:limit])


def event_last_sequence() -> int:
    return Event.objects.aggregate(last=Max("sequence"))["last"] or 0


def event_dict(event: Event) -> dict:
    """An event as every reader gets it (the API, webhooks, the live feed)."""
    return {"sequence": event.sequence, "type": event.type, "time": event.time.isoformat(),
            "customer_id": event.customer_id, "balance_id": event.balance_id or None, "data": event.data}


def events_unsequenced_count() -> int:
    return Event.objects.filter(sequence__isnull=True).count()
