from django.conf import settings
from django.utils.module_loading import import_string

from b2b_server.commands import DomainCommand
from customers import pii
from customers.services import data_keys_rewrap


class Command(DomainCommand):
    help = ("Rewrap every customer's data key under the first key of B2B_PII_KEYS, in batches of short "
            "transactions (safe while serving; stop and rerun at any point). When it reports 0 left, the "
            "other keys may be dropped from B2B_PII_KEYS.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, **o):
        if o["batch"] < 1:
            self.stderr.write("--batch must be at least 1")
            raise SystemExit(2)
        name, _ = pii.current_master()
        total = 0
        while True:
            step = data_keys_rewrap(batch=o["batch"])
            total += step.rewrapped
            if step.rewrapped:
                self.stderr.write(f"rewrapped {total}, {step.remaining} left")
            if not step.rewrapped:
                break
        # Other secrets wrapped by the master keys (API keys' secrets), by the apps that keep them.
        for dotted in settings.B2B_PII_REWRAPPERS:
            rewrap = import_string(dotted)
            while done := rewrap(batch=o["batch"]):
                total += done
        self.stdout.write(f"pii_rotate: rewrapped {total} under {name}, {step.remaining} left")
        if step.remaining:  # in use right now (skipped, not waited for): run it again
            raise SystemExit(1)
