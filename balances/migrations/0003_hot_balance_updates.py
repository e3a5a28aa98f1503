"""Room on each page for a new version of a balance row, so that the update of `amount` (no
index covers it) is a HOT update: no index entries to write on every debit and credit."""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value=50):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE balances_balance SET (fillfactor = {int(value)})", params=None)


def reset_fillfactor(apps, schema_editor):
    set_fillfactor(apps, schema_editor, 100)


class Migration(migrations.Migration):
    dependencies = [("balances", "0002_append_only")]
    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
