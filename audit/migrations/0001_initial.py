from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("time", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("actor", models.CharField(db_index=True, max_length=150)),
                ("action", models.CharField(choices=[
                    ("adjustment_requested", "Adjustment Requested"), ("adjustment_approved", "Adjustment Approved"),
                    ("adjustment_rejected", "Adjustment Rejected"), ("adjustment_expired", "Adjustment Expired"),
                    ("adjustment_posted", "Adjustment Posted"), ("operation_reversed", "Operation Reversed"),
                    ("customer_blocked", "Customer Blocked"), ("customer_unblocked", "Customer Unblocked"),
                    ("customer_changed", "Customer Changed"), ("ledger_exported", "Ledger Exported"),
                    ("staff_login", "Staff Login"), ("staff_login_failed", "Staff Login Failed"),
                    ("mfa_enrolled", "Mfa Enrolled")], db_index=True, max_length=32)),
                ("target", models.CharField(db_index=True, max_length=200)),
                ("details", models.JSONField(blank=True, default=dict)),
            ],
            options={"ordering": ["-id"], "verbose_name": "audit event"},
        ),
    ]
