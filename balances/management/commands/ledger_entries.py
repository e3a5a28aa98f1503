from django.core.management.base import BaseCommand, CommandError

from balances.models import Balance, LedgerEntry
from balances.money import format_amount


class Command(BaseCommand):
    help = "Print a balance's ledger entries, oldest first (the last N with --last)."

    def add_arguments(self, parser):
        parser.add_argument("balance_id")
        parser.add_argument("--last", type=int, default=50)

    def handle(self, *args, **o):
        balance = Balance.objects.filter(balance_id=o["balance_id"]).first()
        if balance is None:
            raise CommandError(f"balance {o['balance_id']} not found")
        entries = list(LedgerEntry.objects.filter(balance=balance).select_related("operation")
                       .order_by("-id")[: o["last"]])
        money = lambda value: format_amount(value, balance.currency)  # noqa: E731
        self.stdout.write(f"{'id':>6}  {'time (UTC)':19}  {'kind':7}  {'amount':>12}  {'realized':>12}  "
                          f"{'balance':>12}  request_id")
        for entry in reversed(entries):
            self.stdout.write(f"{entry.id:>6}  {entry.created_at:%Y-%m-%d %H:%M:%S}  {entry.kind:7}  "
                              f"{money(entry.amount):>12}  {money(entry.realized_amount):>12}  "
                              f"{money(entry.balance_after):>12}  {entry.operation.request_id}")
        self.stdout.write(f"balance {balance.balance_id}: {money(balance.amount)} {balance.currency}")
