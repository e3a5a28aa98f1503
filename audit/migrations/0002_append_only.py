"""The audit trail is immutable: the database refuses UPDATE and DELETE of its rows, whoever
asks (the ORM, the admin, a psql session with the app's role)."""

from django.db import migrations

TABLE = "audit_auditevent"

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
        run(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
    elif schema_editor.connection.vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            run(f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {op} is not allowed'); END")
    else:
        raise NotImplementedError(f"append-only triggers for {schema_editor.connection.vendor}")


def uninstall(apps, schema_editor):
    def run(sql):
        schema_editor.execute(sql, params=None)

    if schema_editor.connection.vendor == "postgresql":
        run(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
        run("DROP FUNCTION IF EXISTS audit_append_only()")
    elif schema_editor.connection.vendor == "sqlite":
        for op in ("update", "delete"):
            run(f"DROP TRIGGER IF EXISTS {TABLE}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
