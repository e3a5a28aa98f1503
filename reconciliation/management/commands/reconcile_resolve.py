from audit.actors import staff_actor
from b2b_server.commands import DomainCommand
from balances.errors import BalanceNotFound
from balances.models import Balance
from balances.money import parse_amount
from reconciliation.models import Break
from reconciliation.services import break_resolve


class Command(DomainCommand):
    help = ("Resolve a reconciliation break with a note; with --correction, also ask for the correction through the "
            "staff controls (posted at once or waiting for a second person, as any adjustment), linked to the break.")

    def add_arguments(self, parser):
        parser.add_argument("break_id", type=int)
        parser.add_argument("--note", required=True)
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="a staff member with reconciliation.change_break")
        parser.add_argument("--correction", nargs=2, metavar=("{correction_in,correction_out}", "AMOUNT"))
        parser.add_argument("--key", default="", help="idempotency key of the correction (default: per break)")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="reconciliation.change_break")
        kind = amount = None
        if o["correction"]:
            kind, raw = o["correction"]
            item = Break.objects.filter(pk=o["break_id"]).first()
            balance = Balance.objects.filter(balance_id=item.balance_id).first() if item else None
            if balance is None:
                raise BalanceNotFound("The break names no balance here to correct.")
            amount = parse_amount(raw, balance.currency)
        resolved = break_resolve(break_id=o["break_id"], note=o["note"], actor=actor, correction_kind=kind,
                                 correction_amount=amount, key=o["key"])
        self.stdout.write(f"break {resolved.pk} resolved by {resolved.resolved_by}"
                          + (f"; correction request {resolved.correction_id}" if resolved.correction_id else ""))
