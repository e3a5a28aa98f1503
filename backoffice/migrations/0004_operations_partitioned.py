"""The links to operations are no longer foreign keys in the database: operations are partitioned
by month (balances 0012 dropped the keys on PostgreSQL; the state follows, nothing else changes)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('backoffice', '0003_staff_groups_finance'),
        ('balances', '0012_monthly_partitions'),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[
        migrations.AlterField(
            model_name='adjustmentrequest',
            name='hold',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='balances.operation'),
        ),
        migrations.AlterField(
            model_name='adjustmentrequest',
            name='operation',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adjustment_request', to='balances.operation'),
        ),
        migrations.AlterField(
            model_name='adjustmentrequest',
            name='reversal_of',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='balances.operation'),
        ),
    ])]
