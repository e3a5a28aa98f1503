"""Finding the holds (what pending requests set aside) without reading every operation: a
partial index over the few rows of kind 'hold', built without a long lock on PostgreSQL."""

from django.db import migrations, models

INDEX = "CREATE INDEX {how} IF NOT EXISTS operation_holds ON balances_operation (balance_id) WHERE kind = 'hold'"


def forwards(apps, schema_editor):
    concurrently = schema_editor.connection.vendor == "postgresql"
    if concurrently:  # a failed concurrent build leaves an invalid index: drop it first
        schema_editor.execute("""DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE c.relname = 'operation_holds' AND NOT i.indisvalid) THEN DROP INDEX operation_holds;
            END IF; END $$""", params=None)
    schema_editor.execute(INDEX.format(how="CONCURRENTLY" if concurrently else ""), params=None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS operation_holds", params=None)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("balances", "0008_checkpoints")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[migrations.AddIndex(
                model_name="operation",
                index=models.Index(fields=["balance"], condition=models.Q(kind="hold"), name="operation_holds"))],
        ),
    ]
