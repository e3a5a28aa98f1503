"""The two staff groups, as they stand now that the gateway's models live in the quadcode app:
"support" reads everything, "operations" may also block customers and adjust balances. Nobody
may change or delete ledger history (the admin and the database refuse).

Idempotent: it sets each group's permissions to exactly these (tests run it again after a
transactional test has emptied the tables)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = [("customers", "customer"), ("balances", "balance"), ("balances", "operation"), ("balances", "ledgerentry"),
        ("quadcode", "gatewaycall"), ("quadcode", "allowedcountry")]
OPERATE = [("customers", "block_customer"), ("balances", "adjust_balance")]


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


class Migration(migrations.Migration):
    dependencies = [
        ("quadcode", "0001_from_traderoom"),
        ("traderoom", "0007_gateway_models_to_quadcode"),
        ("customers", "0003_preregistration"),
        ("balances", "0005_adjustments"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
