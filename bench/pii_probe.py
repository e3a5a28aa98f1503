"""One tree's timings, run by bench/pii_cost.py with that tree as the working directory: customer
creation, the trading-room page (a first visit, which registers the customer at the gateway with
their profile, and a returning one) and the balance API's GET. It only calls what every version
since the trading room offers, so that the code before personal data were sealed runs it too."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from b2b_server.keys import load_es256_private_key  # noqa: E402
from balances.services import balance_open  # noqa: E402
from customers.services import customer_create  # noqa: E402

PROFILE = {"first_name": "Zelda", "middle_name": "Ysolde", "last_name": "Quarkwood", "phone_number": "+49 151 7654321",
           "account_timezone": "Europe/Berlin", "date_of_birth": dt.date(1987, 6, 5)}


def timed(fn, count: int) -> float:
    """Median of `count` calls, in milliseconds."""
    samples = []
    for i in range(count):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    tag, creations, visits, gets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    call_command("migrate", verbosity=0)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # logins made, not measured

    create = timed(lambda i: customer_create(customer_id=f"{tag}-c{i}", email=f"{tag}-c{i}@example.com",
                                             country_code="DE", **PROFILE), creations)

    users = []
    for i in range(visits):
        customer = customer_create(customer_id=f"{tag}-v{i}", email=f"{tag}-v{i}@example.com", country_code="DE",
                                   username=f"{tag}-v{i}", password="pw-bench-2026!", **PROFILE)
        balance_open(customer_id=customer.customer_id, balance_id=f"{tag}-v{i}_USD", currency="USD",
                     amount=Decimal("100"))
        client = Client(REMOTE_ADDR="198.51.100.7", HTTP_HOST="127.0.0.1")
        client.force_login(customer.user)
        users.append(client)

    def visit(i):
        response = users[i].get("/traderoom/")
        assert response.status_code == 200, response.content[:300]

    first = timed(visit, visits)  # unknown at the gateway: 404, registration with the profile, session
    again = timed(visit, visits)  # known there: one session call

    key = load_es256_private_key(os.environ["BENCH_QUADCODE_PRIVATE_KEY"])
    api = Client(REMOTE_ADDR="127.0.0.1", HTTP_HOST="127.0.0.1")

    def get(i):
        now = int(time.time())
        token = jwt.encode({"iss": "qc", "aud": "sandbox", "iat": now, "exp": now + 300}, key, algorithm="ES256")
        response = api.get(f"/v1/customers/{tag}-v{i % visits}/balances/{tag}-v{i % visits}_USD",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, response.content

    balance_get = timed(get, gets)
    print(json.dumps({"create": create, "first_visit": first, "visit": again, "balance_get": balance_get}))


if __name__ == "__main__":
    main()
