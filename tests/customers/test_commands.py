"""The operator commands keep their names and flags (scripts depend on them)."""

from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from balances.models import Balance, LedgerEntry
from customers.models import Customer
from customers.selectors import customer_profile


def test_create_customer_with_profile_and_login(db):
    call_command("create_customer", "c-100", "--email", "ann@example.com", "--country", "de", "--username", "ann",
                 "--password", "s3cret-pass!", "--first-name", "Ann", "--last-name", "Lee", "--phone", "+4912345",
                 "--timezone", "Europe/Berlin", "--date-of-birth", "1990-02-03")
    customer = Customer.objects.get(customer_id="c-100")
    profile = customer_profile(customer=customer)
    assert (customer.country_code, profile.first_name, str(profile.date_of_birth)) == ("DE", "Ann", "1990-02-03")
    assert (profile.email, profile.phone_number, profile.account_timezone) == ("ann@example.com", "+4912345",
                                                                               "Europe/Berlin")
    # The login keeps no copy of the email or the name in the clear.
    assert (customer.user.email, customer.user.first_name, customer.user.last_name) == ("", "", "")
    assert authenticate(username="ann", password="s3cret-pass!") == customer.user


@pytest.mark.parametrize("args,message", [
    (["bad id!", "--email", "a@example.com", "--country", "DE"], "customer_id"),
    (["c-1", "--email", "not-an-email", "--country", "DE"], "email"),
    (["c-1", "--email", "a@example.com", "--country", "DEU"], "country_code"),
    (["c-1", "--email", "a@example.com", "--country", "DE", "--username", "x"], "username and password"),
    (["c-1", "--email", "a@example.com", "--country", "DE", "--date-of-birth", "03/02/1990"], "YYYY-MM-DD"),
])
def test_create_customer_rejects_bad_input_clearly(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_customer", *args)
    assert not Customer.objects.exists()


def test_create_customer_twice_is_a_clear_error(db):
    call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")
    with pytest.raises(CommandError, match="customer_exists"):
        call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")


def test_open_balance_posts_the_opening_amount_as_an_entry(db, capsys):
    call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")
    call_command("open_balance", "c-1", "c-1_USD", "USD", "--amount", "100500")
    call_command("open_balance", "c-1", "c-1_JPY", "jpy", "--type", "demo")
    usd, jpy = Balance.objects.get(balance_id="c-1_USD"), Balance.objects.get(balance_id="c-1_JPY")
    assert (usd.amount, usd.type, jpy.amount, jpy.type, jpy.currency) == (Decimal("100500"), "real", 0, "demo", "JPY")
    assert LedgerEntry.objects.get(balance=usd).kind == "deposit"
    assert not LedgerEntry.objects.filter(balance=jpy).exists()
    assert "100500.00 USD" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["nobody", "b1", "USD"], "customer_not_found"),
    (["c-1", "b 1", "USD"], "balance_id"),
    (["c-1", "b1", "ZZZ"], "invalid_currency"),
    (["c-1", "b1", "USD", "--amount", "1.001"], "invalid_amount"),
    (["c-1", "b1", "USD", "--amount", "-5"], "invalid_amount"),
])
def test_open_balance_rejects_bad_input(db, args, message):
    call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")
    with pytest.raises(CommandError, match=message):
        call_command("open_balance", *args)
    assert not Balance.objects.exists()


def test_open_balance_twice_is_a_clear_error(db):
    call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")
    call_command("open_balance", "c-1", "b1", "USD")
    with pytest.raises(CommandError, match="balance_exists"):
        call_command("open_balance", "c-1", "b1", "EUR")


def test_block_and_unblock(db, capsys):
    call_command("create_customer", "c-1", "--email", "a@example.com", "--country", "DE")
    call_command("block_customer", "c-1")
    assert Customer.objects.get(customer_id="c-1").is_blocked
    call_command("block_customer", "c-1")
    call_command("block_customer", "c-1", "--unblock")
    assert not Customer.objects.get(customer_id="c-1").is_blocked
    assert capsys.readouterr().out.splitlines()[1:] == ["customer c-1 blocked", "customer c-1 blocked (unchanged)",
                                                    "customer c-1 unblocked"]
    with pytest.raises(CommandError, match="customer_not_found"):
        call_command("block_customer", "nobody")


def test_sandbox_token_is_refused_outside_the_sandbox(db, settings, key_dir):
    settings.B2B_ENVIRONMENT = "production"
    with pytest.raises(CommandError, match="sandbox"):
        call_command("sandbox_token", "--private-key", str(key_dir / "quadcode-private.pem"))


def test_b2b_keygen_writes_a_p256_pair_and_prints_the_public_key(tmp_path, capsys):
    from cryptography.hazmat.primitives import serialization

    from b2b_server.keys import load_es256_private_key

    call_command("b2b_keygen", "--private", str(tmp_path / "private.pem"), "--public", str(tmp_path / "public.pem"))
    printed = capsys.readouterr().out
    private = load_es256_private_key(tmp_path / "private.pem")
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert printed == public_pem == (tmp_path / "public.pem").read_text()
    assert (tmp_path / "private.pem").stat().st_mode & 0o077 == 0  # owner only
    with pytest.raises(CommandError, match="exists"):
        call_command("b2b_keygen", "--private", str(tmp_path / "private.pem"), "--public", str(tmp_path / "p2.pem"))
