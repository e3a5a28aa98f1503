from audit.actors import Actor, staff_actor
from b2b_server.commands import DomainCommand
from quadcode.services import customer_block_propagated


class Command(DomainCommand):
    help = ("Block a customer (GET and debit answer 451; credits still settle) and tell the gateway, "
            "or unblock with --unblock (the contract has no unblock call: it stays ours). Recorded in the "
            "audit trail with --reason and --by (without --by, as cli:<your OS user>).")

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--unblock", action="store_true")
        parser.add_argument("--reason", default="")
        parser.add_argument("--by", metavar="USERNAME", help="an active staff member with customers.block_customer")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="customers.block_customer") if o["by"] else Actor.cli()
        result = customer_block_propagated(customer_id=o["customer_id"], actor=actor, blocked=not o["unblock"],
                                           reason=o["reason"])
        state = "blocked" if result.customer.is_blocked else "unblocked"
        unchanged = "" if result.changed else " (unchanged)"
        self.stdout.write(f"customer {result.customer.customer_id} {state}{unchanged}")
