"""The outbox and the allowed countries now belong to the quadcode app (its 0001 renames the
tables); this app keeps only the page."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("traderoom", "0006_groups_view_allowed_countries"),
        ("quadcode", "0001_from_traderoom"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="GatewayCall"), migrations.DeleteModel(name="AllowedCountry")],
        ),
    ]
