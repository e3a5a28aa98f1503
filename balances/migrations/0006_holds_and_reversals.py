"""Holds, releases and reversals: new kinds, and `operation.reversal_of` (at most once).

On PostgreSQL this never holds a long lock on the ledger, however big it is: the column is added
without a default (a catalogue change, no rewrite), its foreign key is added NOT VALID and then
validated (which blocks no writes), and the unique index is built CONCURRENTLY. Hence a
non-atomic migration; each step is idempotent, so a rerun after an interruption completes it.
"""

import django.db.models.deletion
from django.db import migrations, models

KINDS = [("debit", "Debit"), ("credit", "Credit"), ("deposit", "Deposit"), ("withdrawal", "Withdrawal"),
         ("correction_in", "correction (+)"), ("correction_out", "correction (−)"), ("hold", "Hold"),
         ("release", "Release"), ("reversal_in", "reversal (+)"), ("reversal_out", "reversal (−)")]

POSTGRESQL = [
    "ALTER TABLE balances_operation ADD COLUMN IF NOT EXISTS reversal_of_id bigint NULL",
    """DO $$ BEGIN
         ALTER TABLE balances_operation ADD CONSTRAINT balances_operation_reversal_of_id_fk
             FOREIGN KEY (reversal_of_id) REFERENCES balances_operation (id) DEFERRABLE INITIALLY DEFERRED NOT VALID;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    "ALTER TABLE balances_operation VALIDATE CONSTRAINT balances_operation_reversal_of_id_fk",
    # A failed concurrent build leaves an invalid index behind: drop it before building again.
    """DO $$ BEGIN
         IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE c.relname = 'operation_reversed_once' AND NOT i.indisvalid) THEN
             DROP INDEX operation_reversed_once;
         END IF; END $$""",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS operation_reversed_once ON balances_operation (reversal_of_id) "
    "WHERE reversal_of_id IS NOT NULL",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL:
            schema_editor.execute(statement, params=None)
        return
    # SQLite (the demo): ADD COLUMN too, never a copy of the table, which would lose its triggers.
    schema_editor.execute("ALTER TABLE balances_operation ADD COLUMN reversal_of_id bigint NULL "
                          "REFERENCES balances_operation (id) DEFERRABLE INITIALLY DEFERRED", params=None)
    schema_editor.execute("CREATE UNIQUE INDEX operation_reversed_once ON balances_operation (reversal_of_id) "
                          "WHERE reversal_of_id IS NOT NULL", params=None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS operation_reversed_once", params=None)
    schema_editor.execute("ALTER TABLE balances_operation DROP COLUMN reversal_of_id", params=None)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("balances", "0005_adjustments")]

    operations = [
        migrations.AlterModelOptions(
            name="balance",
            options={"permissions": [
                ("adjust_balance", "Can request deposits, withdrawals, corrections and reversals"),
                ("approve_adjustment", "Can approve or reject another staff member's request")]},
        ),
        migrations.AlterField(model_name="ledgerentry", name="kind",
                              field=models.CharField(choices=KINDS, max_length=16)),
        migrations.AlterField(model_name="operation", name="kind", field=models.CharField(choices=KINDS, max_length=16)),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AddField(
                    model_name="operation", name="reversal_of",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT, related_name="reversals",
                                            to="balances.operation")),
                migrations.AddConstraint(
                    model_name="operation",
                    constraint=models.UniqueConstraint(condition=models.Q(("reversal_of__isnull", False)),
                                                       fields=("reversal_of",), name="operation_reversed_once")),
            ],
        ),
    ]
