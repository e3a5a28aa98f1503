"""The event log (events.models)."""

import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('sequence', models.BigIntegerField(null=True, unique=True)),
                ('type', models.CharField(max_length=40)),
                ('time', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('customer_id', models.CharField(db_index=True, max_length=64)),
                ('balance_id', models.CharField(blank=True, max_length=64)),
                ('data', models.JSONField(default=dict)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('sequence__isnull', True)), fields=['id'],
                                         name='event_unsequenced')],
            },
        ),
    ]
