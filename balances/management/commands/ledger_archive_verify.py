from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from balances import archive


class Command(BaseCommand):
    help = ("Verify an archived month (`ledger_archive`): every file against the manifest's SHA-256, every archived "
            "checkpoint's hash recomputed from the exported entries and, unless --offline, both against the live "
            "database's checkpoints and the manifest hash it recorded. Exit 1 on any problem.")

    def add_arguments(self, parser):
        parser.add_argument("folder", help="the archive's folder (the one holding manifest.json)")
        parser.add_argument("--offline", action="store_true", help="do not compare with the live database")

    def handle(self, *args, **o):
        folder = Path(o["folder"])
        result = archive.verify_archive(folder, against_live=not o["offline"])
        for problem in result.problems:
            self.stderr.write(problem)
        if result.problems:
            raise CommandError(f"{folder}: {len(result.problems)} problems")
        self.stdout.write(f"ok: {folder}: {result.checkpoints} checkpoints recomputed from {result.entries} entries; "
                          f"manifest sha256 {result.manifest_sha256}")
