from django.core.management.base import BaseCommand, CommandError

from quadcode.selectors import allowed_countries_count
from quadcode.services import allowed_countries_refresh


class Command(BaseCommand):
    help = "Fetch the gateway's allowed countries now (celery beat does it every hour)."

    def handle(self, *args, **o):
        if not allowed_countries_refresh():
            raise CommandError("the gateway did not answer; the stored list is unchanged")
        self.stdout.write(f"{allowed_countries_count()} allowed countries stored")
