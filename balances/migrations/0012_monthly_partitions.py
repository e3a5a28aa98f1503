"""Operations and entries partitioned by month on PostgreSQL, on a live ledger without a long
lock (balances.partitions.convert says how). Elsewhere (the SQLite demo) only the model state
changes: the links between operations and entries are no longer foreign keys in the database.

The entry's event (0010) now finds its operation by id and month, so it reads one partition."""

import importlib

import django.utils.timezone

from django.conf import settings
from django.db import migrations, models

from balances import partitions

_EVENTS = importlib.import_module("balances.migrations.0010_ledger_entry_events")

EVENT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION balances_entry_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    request text;
BEGIN
    SELECT o.request_id INTO request FROM balances_operation o
    WHERE o.id = NEW.operation_id AND o.created_at = NEW.created_at;
    IF NOT FOUND THEN  -- an entry written apart from its operation's transaction: look everywhere
        SELECT o.request_id INTO request FROM balances_operation o WHERE o.id = NEW.operation_id;
    END IF;
    INSERT INTO events_event (type, time, customer_id, balance_id, data)
    SELECT 'ledger.entry', NEW.created_at, c.customer_id, b.balance_id, jsonb_build_object(
        'entry_id', NEW.id, 'operation_id', NEW.operation_id, 'request_id', request, 'kind', NEW.kind,
        'currency', b.currency, 'amount', round(NEW.amount, s.scale)::text,
        'realized_amount', round(NEW.realized_amount, s.scale)::text,
        'balance_after', round(NEW.balance_after, s.scale)::text)
    FROM balances_balance b JOIN customers_customer c ON c.id = b.customer_id
    CROSS JOIN LATERAL (SELECT {_EVENTS.SCALE} AS scale) s
    WHERE b.id = NEW.balance_id;
    RETURN NULL;
END
$$;
"""


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    # Django gave the claims' character primary key (0011) a second, LIKE-able index: never
    # queried, and one index more to write on every debit and credit.
    with connection.cursor() as cursor:
        cursor.execute("""DO $$ DECLARE name text; BEGIN
            FOR name IN SELECT indexname FROM pg_indexes
                        WHERE tablename = 'balances_requestid' AND indexname LIKE '%_like' LOOP
                EXECUTE format('DROP INDEX %I', name);
            END LOOP; END $$""")
    partitions.convert(connection, ahead=settings.B2B_LEDGER_PARTITIONS_AHEAD)
    with connection.cursor() as cursor:
        cursor.execute(EVENT_FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        raise RuntimeError("the monthly partitions of the ledger cannot be undone by a migration")


class Migration(migrations.Migration):
    atomic = False

    # After every migration that made a foreign key to operations (dropped here).
    dependencies = [("balances", "0011_request_ids"), ("backoffice", "0003_staff_groups_finance")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name="ledgerentry", name="operation",
                field=models.OneToOneField(db_constraint=False, on_delete=models.PROTECT, related_name="entry",
                                           to="balances.operation")),
            migrations.AlterField(
                model_name="operation", name="reversal_of",
                field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True,
                                        on_delete=models.PROTECT, related_name="reversals", to="balances.operation")),
            migrations.AlterField(
                model_name="ledgerentry", name="created_at",
                field=models.DateTimeField(default=django.utils.timezone.now)),
        ]),
    ]
