from django.core.management.base import CommandError

from b2b_server.commands import DomainCommand, date_argument
from balances.models import Balance
from balances.money import format_amount
from balances.reports import StatementDay, daily_statement


class Command(DomainCommand):
    help = ("A balance's statement, day by day (UTC): opening, debits, credits, deposits, withdrawals, corrections "
            "(net, reversals included), holds (net: set aside minus released), closing.")

    def add_arguments(self, parser):
        parser.add_argument("balance_id")
        parser.add_argument("--from", dest="start", required=True, metavar="DATE")
        parser.add_argument("--to", dest="end", required=True, metavar="DATE")

    def handle(self, *args, **o):
        start, end = date_argument(o["start"], "--from"), date_argument(o["end"], "--to")
        if start > end:
            raise CommandError("--from must not be after --to")
        balance = Balance.objects.filter(balance_id=o["balance_id"]).first()
        if balance is None:
            raise CommandError(f"balance {o['balance_id']} not found")
        self.stdout.write(f"{'day':10}  " + "  ".join(f"{c:>14}" for c in StatementDay.columns))
        for row in daily_statement(balance=balance, start=start, end=end):
            self.stdout.write(f"{row.day.isoformat():10}  " + "  ".join(
                f"{format_amount(getattr(row, c), balance.currency):>14}" for c in StatementDay.columns))
        self.stdout.write(f"balance {balance.balance_id} in {balance.currency}")
