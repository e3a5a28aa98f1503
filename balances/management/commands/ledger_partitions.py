import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from balances import partitions


class Command(BaseCommand):
    help = ("Make the ledger's month partitions (PostgreSQL) up to --ahead months after this one, and list them. "
            "Celery beat runs it daily; it connects as DATABASE_MIGRATE_URL, the schema's owner. With --check it "
            "exits 1 when a month ahead is missing or a DEFAULT partition holds rows.")

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=None,
                            help="months after this one (default B2B_LEDGER_PARTITIONS_AHEAD)")
        parser.add_argument("--since-days", type=int, default=0,
                            help="also make the months from this many days ago (before loading history)")
        parser.add_argument("--check", action="store_true", help="exit 1 unless every month ahead exists and the "
                                                                 "DEFAULT partitions are empty")

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError("the ledger is partitioned on PostgreSQL only")
        ahead = settings.B2B_LEDGER_PARTITIONS_AHEAD if o["ahead"] is None else o["ahead"]
        if ahead < 1:
            raise CommandError("--ahead must be at least 1")
        with connection.cursor() as cursor:
            if not partitions.is_partitioned(cursor):
                raise CommandError("the ledger is not partitioned yet: run `manage.py migrate`")
        now = dt.datetime.now(dt.UTC)
        since = now - dt.timedelta(days=o["since_days"]) if o["since_days"] > 0 else None
        for name in partitions.ensure_months(connection, ahead=ahead, now=now, since=since):
            self.stdout.write(f"made {name}")
        horizon = partitions.add_months(partitions.month_start(now), ahead + 1)
        problems = []
        with connection.cursor() as cursor:
            for table in partitions.TABLES:
                found = partitions.partitions(cursor, table)
                covered = max((p.ends for p in found if not p.default), default=None)
                default = next((p for p in found if p.default), None)
                rows = 0
                if default is not None:
                    cursor.execute(f"SELECT count(*) FROM (SELECT FROM {default.name} LIMIT 1000) t")
                    rows = cursor.fetchone()[0]
                self.stdout.write(f"{table}: {len(found) - (default is not None)} partitions, up to "
                                  f"{covered:%Y-%m-%d}, default partition rows {rows}")
                if covered is None or covered < horizon:
                    problems.append(f"{table} has no partition for the months before {horizon:%Y-%m-%d}")
                if rows:
                    problems.append(f"{default.name} holds rows: make their month's partition by hand "
                                    "(docs/operations.md, Partitions and archiving)")
        for problem in problems:
            self.stderr.write(problem)
        if o["check"] and problems:
            raise SystemExit(1)
