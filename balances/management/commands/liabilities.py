from django.core.management.base import BaseCommand
from django.utils import timezone

from b2b_server.commands import moment_argument
from balances.money import format_amount
from balances.reports import liabilities


class Command(BaseCommand):
    help = ("What the broker owes its customers, per currency: the sum of their balances (set-aside amounts "
            "included), what of it is held for pending withdrawals, and over how many balances — now, or --at a "
            "past moment (from the daily checkpoints and the entries after them).")

    def add_arguments(self, parser):
        parser.add_argument("--at", metavar="ISO-8601", help="e.g. 2026-12-01T00:00:00Z (default: now)")

    def handle(self, *args, **o):
        at = moment_argument(o["at"], "--at") if o["at"] else None
        moment = (at or timezone.now()).isoformat()
        self.stdout.write(f"{'currency':8}  {'owed':>20}  {'held':>20}  {'balances':>8}   at {moment}")
        for line in liabilities(at=at):
            self.stdout.write(f"{line.currency:8}  {format_amount(line.owed, line.currency):>20}  "
                              f"{format_amount(line.held, line.currency):>20}  {line.balances:>8}")
