import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from balances import archive


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month must be YYYY-MM, not {value!r}") from None


class Command(BaseCommand):
    help = ("Archive the oldest month of the ledger (PostgreSQL): export its partitions with a SHA-256 manifest "
            "under --to, verify the export (every archived checkpoint recomputed from it) and, with --remove, "
            "detach and drop the partitions. Connects as DATABASE_MIGRATE_URL, the schema's owner. Refused for "
            "months younger than B2B_LEDGER_KEEP_MONTHS or not covered by a checkpoint run of their last day.")

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM: the month whose partition goes")
        parser.add_argument("--to", required=True, help="the folder to write the archive in")
        parser.add_argument("--remove", action="store_true",
                            help="after a verified export, detach and drop the partitions")

    def handle(self, *args, **o):
        month, directory = _month(o["month"]), Path(o["to"])
        try:
            plan = archive.plan(month)
            folder = directory / plan.name
            if (folder / archive.MANIFEST).exists():
                self.stdout.write(f"export: {folder} exists; verifying it")
            else:
                folder, _ = archive.export(plan, directory)
                self.stdout.write(f"export: {folder}")
        except archive.ArchiveRefused as exc:
            raise CommandError(str(exc)) from None
        result = archive.verify_archive(folder)
        for problem in result.problems:
            self.stderr.write(problem)
        if result.problems:
            raise CommandError(f"the export in {folder} does not verify: nothing removed")
        self.stdout.write(f"verified: {result.checkpoints} checkpoints recomputed from {result.entries} entries; "
                          f"manifest sha256 {result.manifest_sha256}")
        if not o["remove"]:
            self.stdout.write(f"kept: {plan.operations.name} and {plan.entries.name} stay live (--remove drops them)")
            return
        held = archive.remove(plan, manifest_sha256=result.manifest_sha256, location=str(folder.resolve()))
        self.stdout.write(f"removed: {plan.operations.name} and {plan.entries.name} detached and dropped "
                          f"({held * 1000:.0f} ms under lock)")
