"""Number the committed events: once, or (--follow) for as long as it runs."""

import time

from django.core.management.base import BaseCommand

from events.services import events_sequence


class Command(BaseCommand):
    help = "Give the committed events their sequence numbers (--follow: keep doing it)."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true", help="keep numbering until stopped")
        parser.add_argument("--interval", type=float, default=0.2, help="seconds between rounds with --follow")

    def handle(self, *args, follow: bool, interval: float, **options):
        total, last = 0, None
        while True:
            done = events_sequence()
            total += done.count
            last = done.last if done.last is not None else last
            if done.count:
                continue
            if not follow:
                break
            time.sleep(interval)
        self.stdout.write(f"events_sequence: numbered {total}, last {last or 0}")
