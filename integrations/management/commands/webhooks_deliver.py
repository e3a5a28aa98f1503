import time

from b2b_server.commands import DomainCommand
from integrations.webhooks import webhooks_deliver


class Command(DomainCommand):
    help = "Send the webhooks what they have not acknowledged (beat does this every 2 s); --follow keeps at it."

    def add_arguments(self, parser):
        parser.add_argument("--follow", action="store_true")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, **o):
        while True:
            done = webhooks_deliver()
            self.stdout.write(f"webhooks_deliver: keys {done.keys}, events {done.events}, failures {done.failures}")
            if not o["follow"]:
                return
            time.sleep(max(o["interval"], 0.1))
