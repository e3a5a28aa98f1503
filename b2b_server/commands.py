"""Shared base for our management commands: domain errors become a clean CommandError."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from b2b_server.errors import DomainError


class DomainCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None


def date_argument(value: str, flag: str) -> dt.date:
    """A command's YYYY-MM-DD argument, or a one-line CommandError naming the flag."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{flag} must be YYYY-MM-DD, not {value!r}") from None


def moment_argument(value: str, flag: str, *, returncode: int = 1) -> dt.datetime:
    """A command's ISO 8601 time argument (UTC when it has no offset), or a one-line CommandError."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{flag} must be an ISO 8601 time, not {value!r}", returncode=returncode) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
