"""Two staff groups: "support" reads everything, "operations" may also block customers and
adjust balances. Nobody may change or delete ledger history (the admin and the database refuse)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = [("customers", "customer"), ("balances", "balance"), ("balances", "operation"), ("balances", "ledgerentry"),
        ("traderoom", "gatewaycall")]
OPERATE = [("customers", "block_customer"), ("balances", "adjust_balance"), ("customers", "view_customer")]


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():  # permissions are normally made after migrate
        previous, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perm(app_label, codename):
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    view = [perm(app_label, f"view_{model}") for app_label, model in READ]
    support, _ = Group.objects.get_or_create(name="support")
    support.permissions.set(view)
    operations, _ = Group.objects.get_or_create(name="operations")
    operations.permissions.set(view + [perm(app_label, codename) for app_label, codename in OPERATE])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["support", "operations"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("traderoom", "0001_gateway_outbox"),
        ("customers", "0002_permissions"),
        ("balances", "0004_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
