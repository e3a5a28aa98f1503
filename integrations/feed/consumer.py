"""`/ws/events`: authenticate with the first message, then push events in sequence order."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from integrations.feed.hub import hub, read_after
from integrations.feed.tokens import TokenRefused, TokenTypeInvalid, Viewer, feed_token_read

log = logging.getLogger(__name__)

AUTHENTICATED = {"success": {"message": "Authenticated."}}
AUTH_FAILED = {"error": {"message": "Authentication failed."}}
TYPE_INVALID = {"error": {"message": "Token type is not provided or invalid."}}
RECHECK = 30.0  # seconds between checks that the viewer may still watch (a revoked key, an erased customer)


@database_sync_to_async
def viewer_allowed(viewer: Viewer) -> bool:
    """A customer who still exists and is not erased; an API key that exists and is not revoked."""
    if viewer.kind == "customer":
        from customers.models import Customer

        return Customer.objects.filter(customer_id=viewer.subject, erased_at__isnull=True).exists()
    from integrations.models import ApiKey

    return ApiKey.objects.filter(key_id=viewer.subject, revoked_at__isnull=True).exists()


def _error(message: str) -> str:
    return json.dumps({"error": {"message": message}})


class EventFeed(AsyncWebsocketConsumer):
    viewer: Viewer | None = None
    cursor = 0
    pump: asyncio.Task | None = None

    async def connect(self):
        await self.accept()
        self.deadline = asyncio.get_running_loop().call_later(settings.B2B_FEED_AUTH_TIMEOUT, self._too_slow)

    def _too_slow(self):
        if self.viewer is None:
            asyncio.ensure_future(self._refuse(AUTH_FAILED))

    async def _refuse(self, answer: dict) -> None:
        await self.send(text_data=json.dumps(answer))
        await self.close()

    async def disconnect(self, code):
        self.deadline.cancel()
        if self.pump is not None:
            self.pump.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError, UnicodeDecodeError):
            message = None
        if self.viewer is None:
            await self._authenticate(message)
            return
        if not isinstance(message, dict) or set(message) != {"resume_from"}:
            await self.send(text_data=_error('Send {"resume_from": SEQUENCE} or nothing.'))
            return
        await self._resume(message["resume_from"])

    async def _authenticate(self, message) -> None:
        if not isinstance(message, dict) or "jwt" not in message:
            await self._refuse(TYPE_INVALID)
            return
        try:
            viewer = feed_token_read(message["jwt"])
        except TokenTypeInvalid:
            await self._refuse(TYPE_INVALID)
            return
        except TokenRefused:
            await self._refuse(AUTH_FAILED)
            return
        if not await viewer_allowed(viewer):
            await self._refuse(AUTH_FAILED)
            return
        resume_from = message.get("resume_from")
        if resume_from is not None and not _sequence(resume_from):
            await self._refuse({"error": {"message": "resume_from must be a sequence number (an integer, 0 or more)."}})
            return
        self.deadline.cancel()
        self.viewer = viewer
        self.hub = hub()
        try:
            await asyncio.wait_for(self.hub.start(), 10)
        except TimeoutError:
            await self._refuse({"error": {"message": "The event log is unavailable; try again shortly."}})
            return
        await self.send(text_data=json.dumps(AUTHENTICATED))
        log.info("feed: %s %s connected", viewer.kind, viewer.subject)
        self._start(self.hub.last if resume_from is None else resume_from)

    async def _resume(self, value) -> None:
        if not _sequence(value):
            await self.send(text_data=_error("resume_from must be a sequence number (an integer, 0 or more)."))
            return
        self._start(value)

    def _start(self, cursor: int) -> None:
        if self.pump is not None:
            self.pump.cancel()
        self.cursor = cursor
        self.pump = asyncio.create_task(self._push())

    async def _push(self) -> None:
        only = self.viewer.subject if self.viewer.kind == "customer" else None
        checked = time.monotonic()
        try:
            while True:
                found = self.hub.since(self.cursor, only)
                if found is None:  # behind the memory window: from the database
                    seen_to = self.hub.last
                    items = await read_after(self.cursor, only)
                    full = len(items) == 1000
                    upto = items[-1].sequence if full else max(seen_to, items[-1].sequence if items else 0, self.cursor)
                else:
                    items, upto = found
                for item in items:
                    await self.send(text_data=item.text)
                self.cursor = upto
                if time.monotonic() - checked > RECHECK:
                    if not await viewer_allowed(self.viewer):
                        await self._refuse(AUTH_FAILED)
                        return
                    checked = time.monotonic()
                await self.hub.wait_past(self.cursor, timeout=RECHECK)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed: pushing to %s %s failed", self.viewer.kind, self.viewer.subject)
            await self.close(code=1011)


def _sequence(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
