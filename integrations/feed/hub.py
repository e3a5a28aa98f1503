"""One hub per feed process: it numbers what has committed (`events_sequence`, one sequencer at
a time across processes), reads the newly numbered events once, keeps the latest in memory as
ready-to-send text, and wakes the connections. A connection behind the memory window reads the
database instead, so a slow or resuming client costs queries, never unbounded memory.

It wakes on PostgreSQL's NOTIFY from whichever process numbered events, and in any case every
`B2B_FEED_POLL` seconds (the only way on SQLite, the demo's database)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from events.selectors import event_dict, event_last_sequence, events_after
from events.services import CHANNEL, events_sequence

log = logging.getLogger(__name__)
READ = 1000  # events read per query
KEEP = 20_000  # events kept in memory (a connection further behind reads the database)


@dataclass(frozen=True)
class Item:
    sequence: int
    customer_id: str
    text: str  # the frame as sent: {"event": {...}}


def frame(event) -> Item:
    return Item(sequence=event.sequence, customer_id=event.customer_id,
                text=json.dumps({"event": event_dict(event)}, separators=(",", ":")))


@database_sync_to_async
def _number_and_read(after: int) -> list[Item]:
    events_sequence()
    return [frame(event) for event in events_after(after=after, limit=READ)]


@database_sync_to_async
def _last() -> int:
    return event_last_sequence()


@database_sync_to_async
def read_after(after: int, customer_id: str | None, limit: int = READ) -> list[Item]:
    return [frame(event) for event in events_after(after=after, limit=limit, customer_id=customer_id)]


@database_sync_to_async
def _listen_params() -> dict | None:
    if connection.vendor != "postgresql":
        return None
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return params


class Hub:
    def __init__(self) -> None:
        self.first = 1  # sequence of items[0]
        self.last = 0  # the highest sequence read; everything up to it is in the database
        self.items: list[Item] = []
        self._tick = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._started = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feed-hub")
        await self._started.wait()

    async def wait_past(self, sequence: int, timeout: float) -> None:
        """Return once something past `sequence` was read (or after `timeout`)."""
        tick = self._tick
        if self.last > sequence:
            return
        try:
            await asyncio.wait_for(tick.wait(), timeout)
        except TimeoutError:
            pass

    def since(self, after: int, customer_id: str | None) -> tuple[list[Item], int] | None:
        """What is in memory past `after` (for `customer_id`, or all) and the sequence the
        caller has then seen up to; None when `after` is older than the memory window."""
        if after < self.first - 1:
            return None
        start = after - self.first + 1
        items = self.items[start:]
        if customer_id is not None:
            items = [item for item in items if item.customer_id == customer_id]
        return items, max(self.last, after)

    def _add(self, items: list[Item]) -> None:
        self.items.extend(items)
        self.last = items[-1].sequence
        if len(self.items) > 2 * KEEP:
            drop = len(self.items) - KEEP
            del self.items[:drop]
            self.first += drop
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def _run(self) -> None:
        while True:
            try:
                self.last = await _last()
                self.first, self.items = self.last + 1, []
                self._started.set()
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: start over once it is back
                log.exception("feed hub: reading the event log failed; retrying")
                await asyncio.sleep(1)

    async def _follow(self) -> None:
        params = await _listen_params()
        listener = None
        if params is not None:
            import psycopg

            listener = await psycopg.AsyncConnection.connect(**params, autocommit=True)
            await listener.execute(f"LISTEN {CHANNEL}")
        try:
            while True:
                items = await _number_and_read(self.last)
                if items:
                    if items[0].sequence != self.last + 1:  # a gap cannot happen; if it did, start over
                        raise RuntimeError(f"event log gap after {self.last}")
                    self._add(items)
                if len(items) == READ:
                    continue
                await self._wait(listener)
        finally:
            if listener is not None:
                await listener.close()

    async def _wait(self, listener) -> None:
        poll = settings.B2B_FEED_POLL
        if listener is None:
            await asyncio.sleep(poll)
            return
        async for _ in listener.notifies(timeout=poll, stop_after=1):
            pass


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """This event loop's hub (a feed process has one loop)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found
