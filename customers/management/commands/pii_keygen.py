from django.core.management.base import BaseCommand

from customers.pii import master_key_new


class Command(BaseCommand):
    help = ("Print a new master key for B2B_PII_KEYS. To rotate: put it first in B2B_PII_KEYS (keep the old "
            "ones after it), restart, run pii_rotate, then drop the old key.")
    requires_system_checks = []

    def handle(self, *args, **o):
        self.stdout.write(master_key_new())
