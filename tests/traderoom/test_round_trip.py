"""The whole trade: our page -> the simulator's trading room -> our balance API -> the ledger."""

from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command

from audit.actors import Actor
from balances.models import Balance, LedgerEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_open_and_close_an_option_from_the_trading_room(browser_client, trader, capsys):
    page = browser_client.get("/traderoom/").content.decode()
    url = page.split('<iframe class="room" src="', 1)[1].split('"', 1)[0]
    with httpx.Client(follow_redirects=True, timeout=10) as room:
        assert ">1000.00<" in room.get(url).text
        opened = room.post(f"{url}/open", data={"stake": "10.00"}).text
        assert "Option opened: 10.00 USD debited." in opened and ">990.00<" in opened
        closed = room.post(f"{url}/close").text
        assert "18.50 USD credited" in closed and ">1008.50<" in closed

    balance = Balance.objects.get(balance_id=f"{trader.customer_id}_USD")
    assert balance.amount == Decimal("1008.50")
    kinds = list(LedgerEntry.objects.filter(balance=balance).order_by("id").values_list("kind", "realized_amount"))
    assert kinds == [("deposit", Decimal("1000")), ("debit", Decimal("10")), ("credit", Decimal("18.50"))]
    call_command("ledger_verify")
    assert "ledger_verify: OK" in capsys.readouterr().out


def test_a_blocked_customers_trading_room_cannot_open_an_option(browser_client, trader):
    from customers.services import customer_block

    page = browser_client.get("/traderoom/").content.decode()
    url = page.split('<iframe class="room" src="', 1)[1].split('"', 1)[0]
    customer_block(actor=Actor.system(), customer_id=trader.customer_id)
    with httpx.Client(follow_redirects=True, timeout=10) as room:
        refused = room.post(f"{url}/open", data={"stake": "10.00"}).text
    assert "Option refused (451)" in refused
    assert Balance.objects.get(balance_id=f"{trader.customer_id}_USD").amount == Decimal("1000")
