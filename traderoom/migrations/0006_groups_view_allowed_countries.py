"""The staff groups may read the stored allowed-countries list too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("traderoom")
    previous, app_config.models_module = getattr(app_config, "models_module", None), True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.get(content_type__app_label="traderoom", codename="view_allowedcountry")
    for group in Group.objects.filter(name__in=["support", "operations"]):
        group.permissions.add(view)


class Migration(migrations.Migration):
    dependencies = [("traderoom", "0005_preregistration"), ("traderoom", "0002_staff_groups")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
