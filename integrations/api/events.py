"""The event log through the API (`?after=SEQUENCE`), and feed tokens for the live WebSocket."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from events.selectors import event_dict, events_after
from events.services import events_sequence
from integrations import roles
from integrations.api import schema
from integrations.api.base import BackofficeApi, ok, query_int
from integrations.feed.tokens import feed_token_mint

EVENTS_DEFAULT, EVENTS_MAX = 500, 5000


class EventListApi(BackofficeApi):
    needs = {"GET": roles.READ}

    @extend_schema(operation_id="events_list", summary="Events after a sequence number, in commit order. "
                   "`next` is the `after` of the next call (the last sequence returned, or `after` itself "
                   "when nothing is new); `more` says whether more are waiting.",
                   parameters=schema.EVENT_FILTERS, responses=schema.responses(200, schema.EventPage))
    def get(self, request, caller):
        after = query_int(request, "after", 0)
        limit = query_int(request, "limit", EVENTS_DEFAULT, minimum=1, maximum=EVENTS_MAX)
        events_sequence()  # what committed a moment ago, numbered now rather than at the next beat
        events = events_after(after=after, limit=limit + 1)
        more = len(events) > limit
        events = events[:limit]
        return ok({"results": [event_dict(event) for event in events],
                   "next": events[-1].sequence if events else after, "more": more})


class FeedTokenApi(BackofficeApi):
    needs = {"POST": roles.READ}

    @extend_schema(operation_id="ws_token", summary="A short-lived token for the live feed (/ws/events): "
                   "every event.", request=None, responses=schema.responses(200, schema.FeedToken))
    def post(self, request, caller):
        minted = feed_token_mint(kind="api", subject=caller.key_id)
        return ok({"token": minted.token, "expires_in": minted.expires_in})
