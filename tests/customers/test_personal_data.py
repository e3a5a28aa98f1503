"""Personal data at rest: sealed under a key of each customer's own, the data keys wrapped by the
master keys of B2B_PII_KEYS (the first wraps, all unwrap), rotation by rewrapping, lookups by a
keyed hash, and a bad or missing key stopping the server at start."""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from customers import pii
from customers.models import Customer, DataKey
from customers.pii import PersonalDataUnavailable
from customers.selectors import customer_find_by_email, customer_get, customer_profile
from customers.services import customer_create, data_keys_rewrap

ROOT = Path(__file__).resolve().parents[2]
KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
PROFILE = {"email": "Zelda.Quark@example.org", "first_name": "Zelda", "middle_name": "Ysolde",
           "last_name": "Quarkwood", "phone_number": "+49 151 7654321", "account_timezone": "Europe/Berlin",
           "date_of_birth": dt.date(1987, 6, 5)}


def keys(settings, *names: str) -> None:
    settings.B2B_PII_KEYS = [base64.b64decode(name) for name in names]


def raw_row(customer_id: str) -> str:
    """The customer's row and their login's, as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c::text, u::text FROM customers_customer c LEFT JOIN auth_user u "
                       "ON u.id = c.user_id WHERE c.customer_id = %s", [customer_id])
        return " ".join(str(value) for value in cursor.fetchone())


def test_a_profile_round_trips_and_the_rows_hold_none_of_it_in_the_clear(db):
    customer = customer_create(customer_id="pd-1", country_code="DE", username="zq", password="pw-zq-2026!",
                               signup_ip="198.51.100.77", **PROFILE)
    profile = customer_profile(customer=customer_get(customer_id="pd-1"))
    assert {name: getattr(profile, name) for name in PROFILE} == PROFILE
    assert profile.signup_ip == "198.51.100.77" and not profile.erased
    row = raw_row("pd-1")
    for value in ("Zelda", "Quark", "Ysolde", "7654321", "Europe/Berlin", "1987-06-05", "198.51.100.77"):
        assert value not in row
    assert customer.personal.startswith("v1:") and customer.signup_ip.startswith("v1:")


def test_the_same_profile_seals_differently_each_time(db):
    first = customer_create(customer_id="pd-2", country_code="DE", **PROFILE)
    second = customer_create(customer_id="pd-3", country_code="DE", **PROFILE)
    assert first.personal != second.personal  # a key each, a nonce each: equal data do not show as equal


def test_a_sealed_value_does_not_open_for_another_customer(db):
    alice = customer_create(customer_id="pd-4", email="a@example.com", country_code="DE")
    bob = customer_create(customer_id="pd-5", email="b@example.com", country_code="DE")
    # Someone with write access swaps Alice's sealed profile into Bob's row: it does not open there.
    Customer.objects.filter(pk=bob.pk).update(personal=alice.personal)
    with pytest.raises(PersonalDataUnavailable):
        customer_profile(customer=customer_get(customer_id="pd-5"))


def test_email_lookup_is_exact_case_insensitive_and_by_keyed_hash(db):
    customer = customer_create(customer_id="pd-6", country_code="DE", **PROFILE)
    assert list(customer_find_by_email(email="zelda.quark@EXAMPLE.org")) == [customer]
    assert list(customer_find_by_email(email="zelda@example.org")) == []
    assert customer.email_hash == pii.email_hash("zelda.quark@example.org")
    assert customer.email_hash != pii.email_hash("zelda.quark@example.org", master=b"B" * 32)  # keyed


def test_rotation_with_two_master_keys(db, settings):
    keys(settings, KEY_A)
    made = [customer_create(customer_id=f"rot-{i}", country_code="DE", email=f"rot{i}@example.com",
                            first_name=f"Name{i}") for i in range(5)]
    a, b = pii.master_id(b"A" * 32), pii.master_id(b"B" * 32)
    assert set(DataKey.objects.values_list("master", flat=True)) == {a}

    keys(settings, KEY_B, KEY_A)  # the new key first; the old one still opens
    assert customer_profile(customer=customer_get(customer_id="rot-0")).first_name == "Name0"
    assert list(customer_find_by_email(email="rot1@example.com")) == [made[1]]  # found mid-rotation
    newcomer = customer_create(customer_id="rot-new", country_code="DE", email="new@example.com")
    assert newcomer.data_key.master == b  # new keys are wrapped by the first key at once

    step = data_keys_rewrap(batch=2)  # interrupted after one batch: restartable
    assert (step.rewrapped, step.remaining) == (2, 3)
    call_command("pii_rotate", "--batch", "2")
    assert set(DataKey.objects.values_list("master", flat=True)) == {b}

    keys(settings, KEY_B)  # the old key is gone: everything still opens, and is still found
    for i in range(5):
        customer = customer_get(customer_id=f"rot-{i}")
        assert customer_profile(customer=customer).first_name == f"Name{i}"
        assert list(customer_find_by_email(email=f"rot{i}@example.com")) == [customer]
    keys(settings, KEY_A)  # and the old key alone opens nothing any more
    with pytest.raises(PersonalDataUnavailable, match="not among B2B_PII_KEYS"):
        customer_profile(customer=customer_get(customer_id="rot-0"))


def test_pii_rotate_prints_one_line_and_a_rerun_does_nothing(db, settings, capsys):
    keys(settings, KEY_A)
    customer_create(customer_id="rot-x", country_code="DE", email="x@example.com")
    keys(settings, KEY_B, KEY_A)
    call_command("pii_rotate")
    call_command("pii_rotate")
    lines = capsys.readouterr().out.splitlines()
    name = pii.master_id(b"B" * 32)
    assert lines == [f"pii_rotate: rewrapped 1 under {name}, 0 left", f"pii_rotate: rewrapped 0 under {name}, 0 left"]


@pytest.mark.django_db(transaction=True)
def test_rotation_is_safe_while_profiles_are_being_read(settings):
    keys(settings, KEY_A)
    for i in range(40):
        customer_create(customer_id=f"live-{i}", country_code="DE", email=f"live{i}@example.com", last_name=f"L{i}")
    keys(settings, KEY_B, KEY_A)
    failures, done = [], threading.Event()

    def reader():
        try:
            while not done.is_set():
                for i in range(40):
                    profile = customer_profile(customer=customer_get(customer_id=f"live-{i}"))
                    if profile.last_name != f"L{i}":
                        failures.append(profile)
        except Exception as exc:  # any failure to open is what this test is about
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        while data_keys_rewrap(batch=3).remaining:
            pass
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert DataKey.objects.exclude(master=pii.master_id(b"B" * 32)).count() == 0


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "B2B_ENVIRONMENT": "production", "DJANGO_SECRET_KEY": "s" * 50,
                               "B2B_ALLOWED_IPS": "203.0.113.0/24", **env})


@pytest.mark.parametrize("value,message", [
    ("", "B2B_PII_KEYS must be set"),
    ("not base64!", "key 1 is not base64"),
    (base64.b64encode(b"short").decode(), "key 1 is 5 bytes, not 32"),
    (f"{KEY_A},{KEY_A}", "a key is listed twice"),
])
def test_a_bad_or_missing_master_key_stops_every_command_naming_the_variable(value, message):
    for command in ("check", "migrate"):
        result = manage(command, B2B_PII_KEYS=value)
        assert result.returncode != 0
        assert message in result.stderr and "B2B_PII_KEYS" in result.stderr


def test_pii_keygen_runs_without_keys_and_prints_a_usable_one(key_dir):
    result = manage("pii_keygen", B2B_PII_KEYS="")
    assert result.returncode == 0, result.stderr
    [key] = result.stdout.split()
    assert len(base64.b64decode(key, validate=True)) == 32
    checked = manage("check", B2B_PII_KEYS=key, QUADCODE_PUBLIC_KEY_FILES=str(key_dir / "quadcode-public.pem"))
    assert checked.returncode == 0, checked.stderr
