"""The narrow table of claimed request_ids, and (PostgreSQL) the table that keeps a reversal to
once per operation: what stays unique once operations are partitioned by month (0012), where a
unique index must include the month.

Safe on a live ledger, with the previous release still serving: the claims are filled by a
trigger on every new operation (ON CONFLICT DO NOTHING: the operations' own unique index still
decides until 0012) and backfilled in batches, each its own short transaction. Deploy order: this
migration (`migrate balances 0011`), then the release that claims request_ids itself, then the
rest (`migrate`): 0012 drops the trigger and the operations' unique index.
"""

from django.db import migrations, models

BATCH = 50_000

POSTGRESQL = """
CREATE OR REPLACE FUNCTION balances_operation_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO balances_requestid (request_id, operation_id, created_at)
    VALUES (NEW.request_id, NEW.id, NEW.created_at) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS balances_operation_claim ON balances_operation;
CREATE TRIGGER balances_operation_claim AFTER INSERT ON balances_operation
    FOR EACH ROW EXECUTE FUNCTION balances_operation_claim();

CREATE TABLE IF NOT EXISTS balances_reversal (
    reversal_of_id bigint PRIMARY KEY,
    operation_id bigint NOT NULL
);
CREATE OR REPLACE FUNCTION balances_operation_reversal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A second reversal of one operation fails here (unique_violation), whichever path wrote it.
    INSERT INTO balances_reversal (reversal_of_id, operation_id) VALUES (NEW.reversal_of_id, NEW.id);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS balances_operation_reversal ON balances_operation;
CREATE TRIGGER balances_operation_reversal AFTER INSERT ON balances_operation
    FOR EACH ROW WHEN (NEW.reversal_of_id IS NOT NULL) EXECUTE FUNCTION balances_operation_reversal();
"""
# Claims and reversals are history too (0002): a deleted claim would let its request apply again.
APPEND_ONLY = ("balances_requestid", "balances_reversal")


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(POSTGRESQL, params=None)
        for table in APPEND_ONLY:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}; "
                                  f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                                  f"FOR EACH ROW EXECUTE FUNCTION balances_append_only()", params=None)
    else:
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS balances_requestid_no_{op.lower()} BEFORE {op} ON balances_requestid "
                f"BEGIN SELECT RAISE(ABORT, 'balances_requestid is append-only: {op} is not allowed'); END",
                params=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM balances_operation")
        (top,) = cursor.fetchone()
    # Batches by id, each committed on its own (a non-atomic migration): no long transaction.
    for start in range(0, top, BATCH):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO balances_requestid (request_id, operation_id, created_at) "
                           "SELECT request_id, id, created_at FROM balances_operation WHERE id > %s AND id <= %s "
                           "ON CONFLICT DO NOTHING", [start, start + BATCH])
            if postgresql:
                cursor.execute("INSERT INTO balances_reversal (reversal_of_id, operation_id) "
                               "SELECT reversal_of_id, id FROM balances_operation "
                               "WHERE id > %s AND id <= %s AND reversal_of_id IS NOT NULL ON CONFLICT DO NOTHING",
                               [start, start + BATCH])


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS balances_operation_claim ON balances_operation; "
                              "DROP TRIGGER IF EXISTS balances_requestid_append_only ON balances_requestid; "
                              "DROP TRIGGER IF EXISTS balances_operation_reversal ON balances_operation; "
                              "DROP FUNCTION IF EXISTS balances_operation_claim(); "
                              "DROP FUNCTION IF EXISTS balances_operation_reversal(); "
                              "DROP TABLE IF EXISTS balances_reversal", params=None)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("balances", "0010_ledger_entry_events")]

    operations = [
        migrations.CreateModel(
            name="RequestId",
            fields=[
                ("request_id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("operation_id", models.BigIntegerField()),
                ("created_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="LedgerArchive",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("starts", models.DateTimeField(help_text="Empty: from the ledger's beginning.", null=True)),
                ("ends", models.DateTimeField(unique=True)),
                ("last_day", models.DateField(
                    help_text="The day of the checkpoint run that covers every archived entry.")),
                ("operations", models.BigIntegerField()),
                ("entries", models.BigIntegerField()),
                ("first_entry_id", models.BigIntegerField(null=True)),
                ("last_entry_id", models.BigIntegerField(null=True)),
                ("manifest_sha256", models.CharField(max_length=64)),
                ("location", models.TextField(help_text="Where the export was written.")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["ends"]},
        ),
        migrations.RunPython(forwards, backwards),
    ]
