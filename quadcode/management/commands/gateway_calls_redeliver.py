from django.core.management.base import BaseCommand

from traderoom.models import GatewayCall
from traderoom.tasks import gateway_calls_redeliver


class Command(BaseCommand):
    help = ("Queue every gateway call that is due again (celery beat does this every minute; "
            "without a broker the calls run here, in-process).")

    def handle(self, *args, **o):
        queued = gateway_calls_redeliver()
        pending = GatewayCall.objects.filter(delivered_at__isnull=True).count()
        self.stdout.write(f"queued {queued} due call(s); {pending} still pending")
