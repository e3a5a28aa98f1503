from django.core.management.base import BaseCommand

from quadcode.selectors import gateway_calls_pending_count
from quadcode.tasks import gateway_calls_redeliver


class Command(BaseCommand):
    help = ("Queue every gateway call that is due again (celery beat does this every minute; "
            "without a broker the calls run here, in-process).")

    def handle(self, *args, **o):
        queued = gateway_calls_redeliver()
        self.stdout.write(f"queued {queued} due call(s); {gateway_calls_pending_count()} still pending")
