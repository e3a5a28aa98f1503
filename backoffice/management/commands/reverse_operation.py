from audit.actors import staff_actor
from b2b_server.commands import DomainCommand
from backoffice.management import report
from backoffice.services import operation_reverse


class Command(DomainCommand):
    help = ("Reverse a posted staff adjustment by its linked opposite entry, once (Quadcode's debits and credits "
            "are refused). Prints 'posted OPERATION_ID' or 'pending REQUEST_ID', as an adjustment of that size.")

    def add_arguments(self, parser):
        parser.add_argument("operation_id", type=int)
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="an active staff member with balances.adjust_balance")
        parser.add_argument("--key", required=True, help="your idempotency key for this reversal")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="balances.adjust_balance")
        outcome = operation_reverse(operation_id=o["operation_id"], reason=o["reason"], key=o["key"], actor=actor)
        report(self, outcome)
