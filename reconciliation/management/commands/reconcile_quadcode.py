from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor, staff_actor
from b2b_server.commands import moment_argument
from b2b_server.errors import DomainError
from reconciliation.report import columns_parse
from reconciliation.services import report_reconcile


def _moment(value: str | None, flag: str):
    return moment_argument(value, flag, returncode=2) if value else None


class Command(BaseCommand):
    help = ("Reconcile Quadcode's operations report (CSV: request_id,customer_id,balance_id,kind,amount,currency_code,"
            "realized_amount,created_at) with the ledger; store each break. The last line is 'reconcile: matched N, "
            "missing_here N, missing_there N, mismatched N'; exit 0 without breaks, 1 with, 2 for a report that "
            "cannot be read (then nothing is stored).")

    def add_arguments(self, parser):
        parser.add_argument("report", type=Path)
        parser.add_argument("--from", dest="start", metavar="ISO-8601", help="default: the report's first created_at")
        parser.add_argument("--to", dest="end", metavar="ISO-8601", help="default: the report's last created_at")
        parser.add_argument("--columns", help='other header names, e.g. "request_id=Operation ID,amount=Amount"')
        parser.add_argument("--by", metavar="USERNAME", help="who imports it (default: cli:<your OS user>)")

    def handle(self, *args, **o):
        try:
            data = o["report"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {o['report']}: {exc.strerror}", returncode=2) from None
        try:
            actor = staff_actor(username=o["by"], permission="reconciliation.add_reportimport") if o["by"] \
                else Actor.cli()
            result = report_reconcile(data=data, name=o["report"].name, actor=actor,
                                      columns=columns_parse(o["columns"]), start=_moment(o["start"], "--from"),
                                      end=_moment(o["end"], "--to"))
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}", returncode=2) from None
        self.stdout.write(f"report {result.report.pk}: {result.report.rows} operations, window "
                          f"{result.report.window_start.isoformat()} to {result.report.window_end.isoformat()}")
        self.stdout.write(result.line)
        if result.breaks:
            raise SystemExit(1)
