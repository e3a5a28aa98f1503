"""Webhooks: each key with a webhook URL is sent the event log in sequence order, at least once.

The event log is the outbox: every event is already stored, in order, in the transaction that
made it true, so nothing is lost between "it happened" and "it was sent". Each key keeps a cursor
(`webhook_delivered`, the last sequence its receiver acknowledged with a 2xx) and moves it only
after such an answer. A receiver that fails, stalls past B2B_WEBHOOK_TIMEOUT or answers late is
sent the same events again after a backoff (1, 2, 4 … up to 300 s), so it may see an event twice;
it dedupes by `sequence`. No database transaction is open while we wait on a receiver: a key is
leased (its `webhook_retry_at` set ahead) for the attempt, so two workers never send one key's
batch at once and a crashed worker's lease simply runs out.

The body is `{"events": [...]}`, signed with the receiving key's own id and secret exactly as
that key signs its requests (integrations.signing): the receiver verifies us as we verify it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from events.selectors import event_dict, events_after
from events.services import events_sequence
from integrations.models import ApiKey
from integrations.services import api_key_secret
from integrations.signing import signed_headers

log = logging.getLogger(__name__)
BACKOFF_MAX_SECONDS = 300


@dataclass(frozen=True)
class Delivered:
    keys: int  # keys whose receiver was sent something
    events: int  # events acknowledged
    failures: int  # attempts that failed (to be retried)


def backoff(failures: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS))


def _due(now: dt.datetime):
    return (ApiKey.objects.filter(revoked_at__isnull=True).exclude(webhook_url="")
            .filter(Q(webhook_retry_at__isnull=True) | Q(webhook_retry_at__lte=now)).order_by("pk"))


def _lease(key: ApiKey, now: dt.datetime) -> bool:
    """Claim `key` for one attempt; False if another worker has it (or it moved meanwhile)."""
    lease_until = now + dt.timedelta(seconds=settings.B2B_WEBHOOK_TIMEOUT * 2 + 5)
    return bool(ApiKey.objects.filter(pk=key.pk, webhook_delivered=key.webhook_delivered,
                                      webhook_retry_at=key.webhook_retry_at).update(webhook_retry_at=lease_until))


def _send(client: httpx.Client, key: ApiKey, events: list) -> str | None:
    """POST one batch; None when the receiver acknowledged it, else what went wrong."""
    body = json.dumps({"events": [event_dict(event) for event in events]}, separators=(",", ":")).encode()
    headers = {**signed_headers(secret=api_key_secret(key), key_id=key.key_id, payload=body),
               "Content-Type": "application/json"}
    try:
        answer = client.post(key.webhook_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"


def webhook_deliver_one(client: httpx.Client, key: ApiKey, *, now: dt.datetime) -> tuple[int, bool]:
    """One batch to one key's receiver: (events acknowledged, failed)."""
    events = events_after(after=key.webhook_delivered, limit=settings.B2B_WEBHOOK_BATCH)
    if not events or not _lease(key, now):
        return 0, False
    problem = _send(client, key, events)
    if problem is None:
        ApiKey.objects.filter(pk=key.pk).update(webhook_delivered=events[-1].sequence, webhook_failures=0,
                                                webhook_retry_at=None, webhook_last_error="")
        return len(events), False
    failures = key.webhook_failures + 1
    ApiKey.objects.filter(pk=key.pk).update(webhook_failures=failures, webhook_last_error=problem,
                                            webhook_retry_at=timezone.now() + backoff(failures))
    log.warning("webhook %s: %s (attempt %d; retrying in %s)", key.key_id, problem, failures, backoff(failures))
    return 0, True


def webhooks_deliver(*, rounds: int = 10) -> Delivered:
    """Send every due key what it has not acknowledged, a batch at a time (up to `rounds` each)."""
    events_sequence()
    keys = events = failures = 0
    with httpx.Client(timeout=settings.B2B_WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        for key in _due(timezone.now()):
            sent_any = False
            for _ in range(rounds):
                done, failed = webhook_deliver_one(client, key, now=timezone.now())
                events += done
                failures += failed
                sent_any = sent_any or bool(done) or failed
                if failed or not done:
                    break
                key.refresh_from_db()
            keys += sent_any
    return Delivered(keys=keys, events=events, failures=failures)
