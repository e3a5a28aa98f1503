from decimal import Decimal

from b2b_server.commands import DomainCommand
from balances.models import BalanceType
from balances.money import format_amount, parse_amount
from balances.services import balance_open


class Command(DomainCommand):
    help = "Open a balance for a customer; a non-zero --amount is posted as an opening deposit entry."

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("balance_id")
        parser.add_argument("currency")
        parser.add_argument("--type", choices=BalanceType.values, default=BalanceType.REAL)
        parser.add_argument("--amount", default="0")

    def handle(self, *args, **o):
        currency = o["currency"].upper()
        raw = o["amount"]
        amount = parse_amount(raw, currency) if raw.strip("0.") else Decimal(0)
        balance = balance_open(customer_id=o["customer_id"], balance_id=o["balance_id"], currency=currency,
                               type=o["type"], amount=amount)
        self.stdout.write(f"opened balance {balance.balance_id} ({balance.type}) for {o['customer_id']}: "
                          f"{format_amount(balance.amount, balance.currency)} {balance.currency}")
