from audit.actors import staff_actor
from b2b_server.commands import DomainCommand
from backoffice.management import report
from backoffice.services import adjustment_approve


class Command(DomainCommand):
    help = "Approve a pending request (not your own): it is posted. Prints 'posted OPERATION_ID'."

    def add_arguments(self, parser):
        parser.add_argument("request_id", type=int)
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="an active staff member with balances.approve_adjustment")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="balances.approve_adjustment")
        outcome = adjustment_approve(request_id=o["request_id"], actor=actor)
        report(self, outcome, replay="(approved before; nothing new was done)")
