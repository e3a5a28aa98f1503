from audit.actors import staff_actor
from b2b_server.commands import DomainCommand
from backoffice.management import report
from backoffice.services import adjustment_reject


class Command(DomainCommand):
    help = "Reject a pending request (not your own) with a reason; its hold is released."

    def add_arguments(self, parser):
        parser.add_argument("request_id", type=int)
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="an active staff member with balances.approve_adjustment")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="balances.approve_adjustment")
        outcome = adjustment_reject(request_id=o["request_id"], actor=actor, reason=o["reason"])
        report(self, outcome, replay="(rejected before; nothing new was done)")
