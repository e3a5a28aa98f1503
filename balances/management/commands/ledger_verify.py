from django.core.management.base import BaseCommand, CommandError

from balances.models import Balance, LedgerEntry
from balances.selectors import ledger_verify


class Command(BaseCommand):
    help = "Recompute every balance from its ledger entries; exit non-zero naming each mismatch."

    def handle(self, *args, **o):
        problems = ledger_verify()
        for problem in problems:
            self.stderr.write(f"MISMATCH balance {problem.balance_id}: {problem.problem}")
        if problems:
            raise CommandError(f"ledger_verify: {len(problems)} mismatch(es)")
        self.stdout.write(f"ledger_verify: OK ({Balance.objects.count()} balances, "
                          f"{LedgerEntry.objects.count()} entries)")
