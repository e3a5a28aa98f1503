"""History is immutable: the database itself refuses UPDATE and DELETE on operations and
ledger entries, whoever asks (the ORM, the admin, a psql session with the app's role)."""

from django.db import migrations

TABLES = ("balances_operation", "balances_ledgerentry")

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION balances_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
"""


def install(apps, schema_editor):
    def run(sql):
        schema_editor.execute(sql, params=None)

    if schema_editor.connection.vendor == "postgresql":
        run(POSTGRESQL_FUNCTION)
        for table in TABLES:
            run(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION balances_append_only()")
    elif schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for op in ("UPDATE", "DELETE"):
                run(f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END")
    else:
        raise NotImplementedError(f"append-only triggers for {schema_editor.connection.vendor}")


def uninstall(apps, schema_editor):
    def run(sql):
        schema_editor.execute(sql, params=None)

    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            run(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        run("DROP FUNCTION IF EXISTS balances_append_only()")
    elif schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for op in ("update", "delete"):
                run(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("balances", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
