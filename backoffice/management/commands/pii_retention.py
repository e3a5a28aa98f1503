from django.core.management.base import BaseCommand

from backoffice.services import retention


class Command(BaseCommand):
    help = ("Apply the retention of personal data now (beat does it nightly): delivered gateway calls lose "
            "their bodies after B2B_OUTBOX_RETENTION_DAYS, customers their sign-up address after "
            "B2B_IP_RETENTION_DAYS, and expired sessions are deleted.")

    def handle(self, *args, **o):
        payloads = retention.outbox_payloads_expire()
        ips = retention.signup_ips_expire()
        sessions = retention.sessions_clear()
        self.stdout.write(f"pii_retention: gateway bodies {payloads}, signup ips {ips}, sessions {sessions}")
