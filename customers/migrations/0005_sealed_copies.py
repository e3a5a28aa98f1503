"""The copies of personal data kept before it was sealed: the bodies of pre-registrations in
the outbox (sent ones emptied, pending ones sealed under the customer's key) and the before/after
of profile edits in the audit trail (sealed, the field names kept in the clear). The audit
trail refuses UPDATE; this one-time rewrite, as the schema's owner, lifts its trigger for the
length of this transaction only. Nothing to do on a database that never held plaintext."""

from django.db import migrations

AUDIT = "audit_auditevent"


def _audit_rewrite(schema_editor, rewrite):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {AUDIT} DISABLE TRIGGER {AUDIT}_append_only", params=None)
        rewrite()
        schema_editor.execute(f"ALTER TABLE {AUDIT} ENABLE TRIGGER {AUDIT}_append_only", params=None)
    else:
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {AUDIT}_no_{op}", params=None)
        rewrite()
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(f"CREATE TRIGGER {AUDIT}_no_{op.lower()} BEFORE {op} ON {AUDIT} BEGIN SELECT "
                                  f"RAISE(ABORT, '{AUDIT} is append-only: {op} is not allowed'); END", params=None)


def seal_copies(apps, schema_editor):
    from customers import pii

    Customer = apps.get_model("customers", "Customer")
    GatewayCall = apps.get_model("quadcode", "GatewayCall")
    AuditEvent = apps.get_model("audit", "AuditEvent")

    def key_of(customer_id):
        customer = Customer.objects.select_related("data_key").filter(customer_id=customer_id).first()
        if customer is None or customer.data_key.wrapped is None:
            return None
        data_key = customer.data_key
        return pii.unwrap(master_name=data_key.master, key_id=str(data_key.key_id), wrapped=data_key.wrapped)

    calls = GatewayCall.objects.filter(kind="create_customer").exclude(payload={})
    for call in calls.iterator():
        if "sealed" in call.payload:
            continue
        key = key_of(call.customer_id) if call.delivered_at is None else None
        call.payload = {} if key is None else {
            "sealed": pii.seal_json(key, call.customer_id, "gateway:create_customer", call.payload)}
        call.save(update_fields=["payload"])

    plain = [e for e in AuditEvent.objects.filter(action="customer_changed") if "changed" in e.details]
    if not plain:
        return

    def rewrite():
        for event in plain:
            customer_id = event.target.removeprefix("customer:")
            key = key_of(customer_id)
            changed = event.details["changed"]
            event.details = {"fields": sorted(changed)} if key is None else {
                "fields": sorted(changed), "sealed": pii.seal_json(key, customer_id, "audit:changed", changed)}
            AuditEvent.objects.filter(pk=event.pk).update(details=event.details)

    _audit_rewrite(schema_editor, rewrite)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0004_personal_data_sealed'),
        ('audit', '0004_customer_erased_action'),
        ('quadcode', '0001_from_traderoom'),
    ]

    operations = [migrations.RunPython(seal_copies, elidable=False)]
