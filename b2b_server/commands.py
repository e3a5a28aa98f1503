"""Shared base for our management commands: domain errors become a clean CommandError."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from b2b_server.errors import DomainError


class DomainCommand(BaseCommand):
    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
