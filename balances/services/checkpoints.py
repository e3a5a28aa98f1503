"""Making the daily checkpoints (celery beat, after midnight UTC; or `manage.py ledger_checkpoint`)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from django.db import transaction
from django.db.models import Max

from b2b_server.db import unbounded_statements
from balances.checkpoints import ENTRY_FIELDS, GENESIS, chain_hash
from balances.models import Checkpoint, CheckpointRun, LedgerEntry, Operation

_BALANCES_PER_CHUNK = 1000


def _day_end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, dt.UTC)


def _last_id(model, before: dt.datetime, floor: int) -> int:
    # Walks the id index back from the newest row: only what came after `before` is read.
    last = model.objects.filter(created_at__lt=before).order_by("-id").values_list("id", flat=True).first()
    return max(last or 0, floor)


def _latest_hashes(balance_ids: list[int]) -> dict[int, str]:
    days = dict(Checkpoint.objects.filter(balance_id__in=balance_ids).values("balance_id")
                .annotate(day=Max("day")).values_list("balance_id", "day"))
    latest = Checkpoint.objects.filter(balance_id__in=list(days), day__in=set(days.values()))
    return {c.balance_id: c.hash for c in latest if days[c.balance_id] == c.day}


def checkpoints_make(*, day: dt.date) -> CheckpointRun:
    """Checkpoint every balance that has entries since its last checkpoint, up to the end of `day`
    (UTC). Idempotent: a day is checkpointed once. Run it a few minutes after midnight: an entry
    belongs to the day of its transaction's start, and no transaction outlives the database's
    statement and idle timeouts."""
    done = CheckpointRun.objects.filter(day=day).first()
    if done is not None:
        return done
    if CheckpointRun.objects.filter(day__gt=day).exists():
        raise ValueError(f"the ledger is checkpointed past {day} already; a day cannot be inserted before it")
    previous = CheckpointRun.objects.filter(day__lt=day).order_by("-day").first()
    start_entry, start_operation = (previous.up_to_entry_id, previous.up_to_operation_id) if previous else (0, 0)
    with unbounded_statements(), transaction.atomic():
        up_to_entry = _last_id(LedgerEntry, _day_end(day), start_entry)
        up_to_operation = _last_id(Operation, _day_end(day), start_operation)
        batch = LedgerEntry.objects.filter(id__gt=start_entry, id__lte=up_to_entry)
        balance_ids = sorted(set(batch.values_list("balance_id", flat=True).distinct()))
        made = entries = 0
        for start in range(0, len(balance_ids), _BALANCES_PER_CHUNK):
            chunk = balance_ids[start:start + _BALANCES_PER_CHUNK]
            previous_hashes = _latest_hashes(chunk)
            rows = batch.filter(balance_id__in=chunk).order_by("balance_id", "id") \
                .values_list("balance_id", "balance_after", *ENTRY_FIELDS).iterator(chunk_size=5000)
            checkpoints = []
            for balance_id, group in groupby(rows, key=lambda row: row[0]):
                group = list(group)
                previous_hash = previous_hashes.get(balance_id, GENESIS)
                digest, count = chain_hash(previous_hash, (row[2:] for row in group))
                checkpoints.append(Checkpoint(balance_id=balance_id, day=day, closing_amount=group[-1][1],
                                              last_entry_id=group[-1][2], entries=count,
                                              previous_hash=previous_hash, hash=digest))
                entries += count
            Checkpoint.objects.bulk_create(checkpoints, batch_size=1000)
            made += len(checkpoints)
        return CheckpointRun.objects.create(day=day, up_to_entry_id=up_to_entry, up_to_operation_id=up_to_operation,
                                            checkpoints=made, entries=entries)
