from audit.actors import Actor, staff_actor
from b2b_server.commands import DomainCommand
from backoffice.services.erasure import customer_erase


class Command(DomainCommand):
    help = ("Erase a customer's personal data (their data key is destroyed: every copy becomes unreadable); "
            "refused while a balance of theirs is not zero or a request of theirs is open. Their balances, "
            "entries and operations stay. Blocks them here and at the gateway and frees their login. Recorded "
            "in the audit trail with --reason and --by (without --by, as cli:<your OS user>).")

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", metavar="USERNAME", help="an active staff member with customers.erase_customer")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="customers.erase_customer") if o["by"] else Actor.cli()
        outcome = customer_erase(customer_id=o["customer_id"], reason=o["reason"], actor=actor)
        self.stdout.write(f"customer {outcome.customer_id} erased" + (" (already)" if outcome.replayed else ""))
