"""The gateway's outbox and the allowed countries move from the traderoom app to this one.

The rows stay where they are: the tables are renamed (no copy, no rewrite), and the content
types follow, so that the staff groups keep their permissions on them.
"""

from django.db import migrations, models

MOVED = {"gatewaycall": "GatewayCall", "allowedcountry": "AllowedCountry"}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="quadcode", model=model).exists():
            ContentType.objects.filter(app_label="traderoom", model=model).update(app_label="quadcode")


def return_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="quadcode", model__in=list(MOVED)).update(app_label="traderoom")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("traderoom", "0006_groups_view_allowed_countries"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL("ALTER TABLE traderoom_gatewaycall RENAME TO quadcode_gatewaycall",
                                  "ALTER TABLE quadcode_gatewaycall RENAME TO traderoom_gatewaycall"),
                migrations.RunSQL("ALTER TABLE traderoom_allowedcountry RENAME TO quadcode_allowedcountry",
                                  "ALTER TABLE quadcode_allowedcountry RENAME TO traderoom_allowedcountry"),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="GatewayCall",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("kind", models.CharField(choices=[("block", "Block"), ("create_customer", "Create Customer"),
                                                           ("balance_push", "Balance Push")], max_length=16)),
                        ("customer_id", models.CharField(max_length=64)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(auto_now_add=True)),
                        ("leased_until", models.DateTimeField(blank=True, null=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, max_length=500)),
                    ],
                    options={
                        "indexes": [models.Index(condition=models.Q(("delivered_at__isnull", True)),
                                                 fields=["next_attempt_at"], name="gateway_call_pending")],
                    },
                ),
                migrations.CreateModel(
                    name="AllowedCountry",
                    fields=[
                        ("short_code", models.CharField(max_length=2, primary_key=True, serialize=False)),
                        ("iso_code", models.CharField(max_length=3)),
                        ("name", models.CharField(max_length=100)),
                        ("fetched_at", models.DateTimeField()),
                    ],
                    options={"verbose_name_plural": "allowed countries", "ordering": ["short_code"]},
                ),
            ],
        ),
        migrations.RunPython(move_content_types, return_content_types),
    ]
