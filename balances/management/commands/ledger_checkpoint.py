import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from b2b_server.commands import date_argument
from balances.services.checkpoints import checkpoints_make


class Command(BaseCommand):
    help = ("Make the daily checkpoints up to the end of a day (UTC; default yesterday): every balance with "
            "entries since its last checkpoint gets one, chained by hash. Celery beat does it after midnight.")

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD (default: yesterday, UTC)")

    def handle(self, *args, **o):
        day = date_argument(o["day"], "--day") if o["day"] else timezone.now().date() - dt.timedelta(days=1)
        try:
            run = checkpoints_make(day=day)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"checkpoints of {run.day}: {run.checkpoints} balances, {run.entries} entries "
                          f"(up to entry {run.up_to_entry_id})")
