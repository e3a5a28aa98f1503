from b2b_server.commands import DomainCommand
from quadcode.services import customer_block_propagated


class Command(DomainCommand):
    help = ("Block a customer (GET and debit answer 451; credits still settle) and tell the gateway, "
            "or unblock with --unblock (the contract has no unblock call: it stays ours).")

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--unblock", action="store_true")

    def handle(self, *args, **o):
        result = customer_block_propagated(customer_id=o["customer_id"], blocked=not o["unblock"])
        state = "blocked" if result.customer.is_blocked else "unblocked"
        unchanged = "" if result.changed else " (unchanged)"
        self.stdout.write(f"customer {result.customer.customer_id} {state}{unchanged}")
