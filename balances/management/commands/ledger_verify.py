import time

from django.core.management.base import BaseCommand, CommandError

from balances.verify import ledger_verify_recorded


class Command(BaseCommand):
    help = ("Check the ledger from its latest daily checkpoints (what came after them, and the chain of "
            "checkpoints); with --full, the whole history and every checkpoint's hash. Exits non-zero naming "
            "each mismatch.")

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="check everything and recompute every hash")

    def handle(self, *args, **o):
        started = time.monotonic()
        report = ledger_verify_recorded(full=o["full"])
        for problem in report.problems:
            self.stderr.write(f"MISMATCH balance {problem.balance_id}: {problem.problem}")
        if report.problems:
            raise CommandError(f"ledger_verify: {len(report.problems)} mismatch(es)")
        self.stdout.write(f"ledger_verify{' --full' if o['full'] else ''}: OK ({report.balances} balances, "
                          f"{report.entries_checked} entries checked, {time.monotonic() - started:.2f} s)")
