"""Personal data sealed at rest: every customer gets a data key of their own (wrapped by the
first of B2B_PII_KEYS), their profile becomes one sealed document, their sign-up address a
sealed value, their email a keyed hash for lookups; the plain columns go, and so do the copies
in their login rows. One way only: going back would write the plaintext out again."""

import datetime as dt
import uuid

from django.conf import settings
from django.db import migrations, models


def seal_existing(apps, schema_editor):
    from customers import pii

    Customer = apps.get_model("customers", "Customer")
    DataKey = apps.get_model("customers", "DataKey")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    for customer in Customer.objects.all().iterator():
        key_id, master, wrapped, key = pii.data_key_new()
        data_key = DataKey.objects.create(key_id=key_id, master=master, wrapped=wrapped)
        born = customer.date_of_birth
        personal = {"email": customer.email, "first_name": customer.first_name,
                    "middle_name": customer.middle_name, "last_name": customer.last_name,
                    "phone_number": customer.phone_number, "account_timezone": customer.account_timezone,
                    "date_of_birth": born.isoformat() if isinstance(born, dt.date) else (born or "")}
        customer.data_key = data_key
        customer.personal = pii.seal_json(key, customer.customer_id, "personal", personal)
        customer.signup_ip_sealed = pii.seal(key, customer.customer_id, "signup_ip", customer.signup_ip or "")
        customer.email_hash = pii.email_hash(customer.email)
        customer.save(update_fields=["data_key", "personal", "signup_ip_sealed", "email_hash"])
        if customer.user_id is not None:
            User.objects.filter(pk=customer.user_id).update(email="", first_name="", last_name="")


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0003_preregistration'),
    ]

    operations = [
        migrations.CreateModel(
            name='DataKey',
            fields=[
                ('key_id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('master', models.CharField(help_text='Which master key wraps it (its fingerprint).', max_length=16)),
                ('wrapped', models.BinaryField(editable=False, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('rewrapped_at', models.DateTimeField(blank=True, null=True)),
                ('destroyed_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'constraints': [models.CheckConstraint(
                    condition=models.Q(models.Q(('destroyed_at__isnull', False), ('wrapped__isnull', True)),
                                       models.Q(('destroyed_at__isnull', True), ('wrapped__isnull', False)),
                                       _connector='OR'),
                    name='data_key_destroyed_has_no_bytes')],
            },
        ),
        migrations.AddField(
            model_name='customer',
            name='data_key',
            field=models.OneToOneField(null=True, on_delete=models.PROTECT, related_name='customer',
                                       to='customers.datakey'),
        ),
        migrations.AddField(
            model_name='customer',
            name='personal',
            field=models.TextField(default='', editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='customer',
            name='email_hash',
            field=models.CharField(db_index=True, default='', editable=False, max_length=64,
                                   help_text='Keyed hash of the email (customers.pii.email_hash); empty once erased.'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='customer',
            name='signup_ip_sealed',
            field=models.TextField(blank=True, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='customer',
            name='erased_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(seal_existing, elidable=False),
        migrations.RemoveField(model_name='customer', name='email'),
        migrations.RemoveField(model_name='customer', name='first_name'),
        migrations.RemoveField(model_name='customer', name='middle_name'),
        migrations.RemoveField(model_name='customer', name='last_name'),
        migrations.RemoveField(model_name='customer', name='phone_number'),
        migrations.RemoveField(model_name='customer', name='account_timezone'),
        migrations.RemoveField(model_name='customer', name='date_of_birth'),
        migrations.RemoveField(model_name='customer', name='signup_ip'),
        migrations.RenameField(model_name='customer', old_name='signup_ip_sealed', new_name='signup_ip'),
        migrations.AlterField(
            model_name='customer',
            name='signup_ip',
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name='customer',
            name='data_key',
            field=models.OneToOneField(on_delete=models.PROTECT, related_name='customer', to='customers.datakey'),
        ),
        migrations.AlterModelOptions(
            name='customer',
            options={'permissions': [('block_customer', 'Can block and unblock customers'),
                                     ('erase_customer', "Can erase a customer's personal data")]},
        ),
    ]
