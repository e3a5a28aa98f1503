from audit.actors import staff_actor
from b2b_server.commands import DomainCommand
from backoffice.management import report
from backoffice.services import adjustment_request
from balances.errors import BalanceNotFound
from balances.models import ADJUSTMENTS, Balance
from balances.money import parse_amount


class Command(DomainCommand):
    help = ("Ask for a deposit, withdrawal or correction on a balance. Prints 'posted OPERATION_ID' (small incoming "
            "adjustments) or 'pending REQUEST_ID' (every withdrawal, and anything at or above B2B_FOUR_EYES_FROM: a "
            "second staff member approves). The same --key with the same details is a replay.")

    def add_arguments(self, parser):
        parser.add_argument("balance_id")
        parser.add_argument("kind", choices=[kind.value for kind in ADJUSTMENTS])
        parser.add_argument("amount", help="in the balance's currency, e.g. 100.00")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="an active staff member with balances.adjust_balance")
        parser.add_argument("--key", required=True, help="your idempotency key for this request")

    def handle(self, *args, **o):
        actor = staff_actor(username=o["by"], permission="balances.adjust_balance")
        balance = Balance.objects.filter(balance_id=o["balance_id"]).first()
        if balance is None:
            raise BalanceNotFound(f"There is no balance {o['balance_id']}.")
        outcome = adjustment_request(balance_id=balance.balance_id, kind=o["kind"],
                                     amount=parse_amount(o["amount"], balance.currency), reason=o["reason"],
                                     key=o["key"], actor=actor)
        report(self, outcome)
