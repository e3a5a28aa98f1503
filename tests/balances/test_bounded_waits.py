"""No statement waits forever for a lock, and a money movement never runs inside a caller's
transaction (which would keep the balance row locked until that caller commits)."""

import logging
import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction

from audit.actors import Actor
from balances import services
from balances.models import Balance, Kind
from tests.conftest import body, ids, ledger_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def hold_row_lock(balance_pk: int, locked: threading.Event, release: threading.Event) -> None:
    """Another session locks the balance row and keeps it until told to let go."""
    dsn = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in dsn.items() if k in ("dbname", "user", "host", "port", "password")},
                         autocommit=False) as other:
        other.execute("SELECT amount FROM balances_balance WHERE id = %s FOR UPDATE", [balance_pk])
        locked.set()
        release.wait(10)
        other.rollback()


def test_a_debit_that_waits_past_the_lock_timeout_is_a_503_lock_timeout_and_applies_nothing(
        quadcode, make_balance, caplog):
    balance = make_balance("100.00")
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_row_lock, args=(balance.pk, locked, release))
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")  # the setting's 5 s, shortened for the test
        before = ledger_snapshot()
        with caplog.at_level(logging.ERROR, logger="b2b_server.error_handlers"):
            response = quadcode.debit(*ids(balance), body("10.00", request_id="waits-too-long"))
    finally:
        release.set()
        holder.join()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"] == "lock_timeout"
    assert any(record.getMessage().startswith("lock timeout:") for record in caplog.records)
    assert ledger_snapshot() == before  # the request_id was not claimed either
    retried = quadcode.debit(*ids(balance), body("10.00", request_id="waits-too-long"))
    assert (retried.status_code, retried.json()["balance_current_amount"]) == (201, "90.00")


@pytest.mark.parametrize("move", ["debit", "credit", "deposit", "adjust", "hold"])
def test_a_money_movement_refuses_to_run_inside_a_callers_transaction(make_balance, move):
    balance = make_balance("100.00")
    customer_id, balance_id = ids(balance)
    calls = {
        "debit": lambda: services.ledger_debit(customer_id=customer_id, balance_id=balance_id, request_id="in-tx-d",
                                               amount=Decimal("1.00"), currency="USD"),
        "credit": lambda: services.ledger_credit(customer_id=customer_id, balance_id=balance_id,
                                                 request_id="in-tx-c", amount=Decimal("1.00"), currency="USD"),
        "deposit": lambda: services.ledger_deposit(customer_id=customer_id, balance_id=balance_id,
                                                   request_id="in-tx-p", amount=Decimal("1.00"), currency="USD"),
        "adjust": lambda: services.ledger_adjustment_post(balance_id=balance_id, kind=Kind.WITHDRAWAL,
                                                          amount=Decimal("1.00"), request_id="in-tx-a", comment="test",
                                                          actor=Actor.system()),
        "hold": lambda: services.ledger_hold(balance_id=balance_id, amount=Decimal("1.00"), request_id="in-tx-h",
                                             comment="test", actor=Actor.system()),
    }
    before = ledger_snapshot()
    with pytest.raises(RuntimeError, match="(must not run inside another transaction|cannot be nested)"), \
            transaction.atomic():
        calls[move]()
    assert ledger_snapshot() == before
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("100.00")
