"""The staff groups with the staff controls: "support" reads everything (the request queue and
the audit trail included); "operations" may also block customers and ask for adjustments;
"finance" may also approve or reject other people's requests. Four eyes means one person
should not hold both adjust and approve in practice; the rule itself (never your own request)
holds regardless.

Idempotent: it sets each group's permissions to exactly these (tests run it again after a
transactional test has emptied the tables)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = [("customers", "customer"), ("balances", "balance"), ("balances", "operation"), ("balances", "ledgerentry"),
        ("quadcode", "gatewaycall"), ("quadcode", "allowedcountry"), ("backoffice", "adjustmentrequest"),
        ("audit", "auditevent")]
GROUPS = {
    "support": [],
    "operations": [("customers", "block_customer"), ("balances", "adjust_balance")],
    "finance": [("balances", "approve_adjustment")],
}


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
    for name, extra in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(view + [perm(app_label, codename) for app_label, codename in extra])


def remove_finance(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="finance").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_adjustment_requests"),
        ("audit", "0002_append_only"),
        ("balances", "0006_holds_and_reversals"),
    ]
    operations = [migrations.RunPython(create_groups, remove_finance)]
