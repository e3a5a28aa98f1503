"""On SQLite, 0005 rebuilt the operation and entry tables (SQLite alters a table by copying it),
and the copies lost 0002's append-only triggers. Put them back, and check on every database
that they are there: history stays immutable on the demo database too."""

from django.db import migrations

TABLES = ("balances_operation", "balances_ledgerentry")


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END", params=None)
    elif vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)",
                           [[f"{table}_append_only" for table in TABLES]])
            found = {name for (name,) in cursor.fetchall()}
        missing = {f"{table}_append_only" for table in TABLES} - found
        if missing:
            raise RuntimeError(f"append-only triggers missing: {', '.join(sorted(missing))}")


class Migration(migrations.Migration):
    dependencies = [("balances", "0006_holds_and_reversals")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
