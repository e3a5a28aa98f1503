"""One index for a customer's feed (customer_id, sequence) instead of two on customer_id alone
(Django's plain one and its LIKE twin, which nothing queries): every entry's event then updates
one index fewer when it is written and again when it is numbered. Built and dropped
CONCURRENTLY on PostgreSQL, so a live ledger keeps writing meanwhile."""

from django.db import migrations, models

INDEX = models.Index(fields=["customer_id", "sequence"], name="event_customer_sequence")
OLD = ("events_event_customer_id_d5d99f9f", "events_event_customer_id_d5d99f9f_like")


def forwards(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    if schema_editor.connection.vendor != "postgresql":
        # Not alter_field: SQLite would rebuild the table under the ledger's trigger that names it.
        schema_editor.add_index(Event, INDEX)
        schema_editor.execute(f"DROP INDEX IF EXISTS {OLD[0]}")
        return
    schema_editor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS event_customer_sequence "
                          "ON events_event (customer_id, sequence)")
    for name in OLD:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def backwards(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {OLD[0]} ON events_event (customer_id)")
        schema_editor.remove_index(Event, INDEX)
        return
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD[0]} ON events_event (customer_id)")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD[1]} "
                          "ON events_event (customer_id varchar_pattern_ops)")
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS event_customer_sequence")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("events", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField("event", "customer_id", models.CharField(max_length=64)),
                migrations.AddIndex("event", INDEX),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
