"""Every ledger entry appends its event to the log (events_event) in the same transaction, by a
trigger: whichever path writes an entry — the balance API's one statement, the ORM, a staff
posting — cannot forget it. Amounts are written in the currency's own precision, as the API
answers them ("100.00" USD, "1500" JPY): the scale comes from a CASE made from ISO 4217 when
this migration was written (a later change to the table needs a migration of its own)."""

from django.db import migrations
from iso4217 import Currency

_ODD = {}
for _currency in Currency:
    if _currency.exponent is not None and _currency.exponent != 2:
        _ODD.setdefault(_currency.exponent, []).append(_currency.code)
SCALE = "CASE b.currency " + " ".join(
    f"WHEN '{code}' THEN {exponent}" for exponent, codes in sorted(_ODD.items()) for code in sorted(codes)) + " ELSE 2 END"

_SELECT = """
    FROM balances_balance b JOIN customers_customer c ON c.id = b.customer_id
    JOIN balances_operation o ON o.id = NEW.operation_id
    WHERE b.id = NEW.balance_id"""

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION balances_entry_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events_event (type, time, customer_id, balance_id, data)
    SELECT 'ledger.entry', NEW.created_at, c.customer_id, b.balance_id, jsonb_build_object(
        'entry_id', NEW.id, 'operation_id', NEW.operation_id, 'request_id', o.request_id, 'kind', NEW.kind,
        'currency', b.currency, 'amount', round(NEW.amount, s.scale)::text,
        'realized_amount', round(NEW.realized_amount, s.scale)::text,
        'balance_after', round(NEW.balance_after, s.scale)::text)
    FROM balances_balance b JOIN customers_customer c ON c.id = b.customer_id
    JOIN balances_operation o ON o.id = NEW.operation_id
    CROSS JOIN LATERAL (SELECT {SCALE} AS scale) s
    WHERE b.id = NEW.balance_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER balances_ledgerentry_event AFTER INSERT ON balances_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION balances_entry_event();
"""


def _sqlite_amount(column: str) -> str:
    return f"printf('%.' || ({SCALE}) || 'f', NEW.{column})"


SQLITE = f"""
CREATE TRIGGER IF NOT EXISTS balances_ledgerentry_event AFTER INSERT ON balances_ledgerentry BEGIN
    INSERT INTO events_event (type, time, customer_id, balance_id, data)
    SELECT 'ledger.entry', NEW.created_at, c.customer_id, b.balance_id, json_object(
        'entry_id', NEW.id, 'operation_id', NEW.operation_id, 'request_id', o.request_id, 'kind', NEW.kind,
        'currency', b.currency, 'amount', {_sqlite_amount('amount')},
        'realized_amount', {_sqlite_amount('realized_amount')}, 'balance_after', {_sqlite_amount('balance_after')})
    {_SELECT};
END
"""


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE, params=None)
    else:
        raise NotImplementedError(f"the ledger's event trigger for {vendor}")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS balances_ledgerentry_event ON balances_ledgerentry; "
                              "DROP FUNCTION IF EXISTS balances_entry_event()", params=None)
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS balances_ledgerentry_event", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('balances', '0009_hold_index'),
        ('customers', '0005_sealed_copies'),
        ('events', '0001_initial'),
    ]

    operations = [migrations.RunPython(install, uninstall)]
