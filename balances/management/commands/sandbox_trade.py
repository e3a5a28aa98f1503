"""Play Quadcode's side of one option against a running balance server, over HTTP, the way the
contract README's sequence diagrams show it: get-balances, open-option (debit), option closed
with a profit (credit). Sandbox only: tokens are signed with a local stand-in key."""

import json
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import jwt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from b2b_server.keys import load_es256_private_key


class Command(BaseCommand):
    help = "Open and close one option against a running server, as Quadcode's servers would (sandbox only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--private-key", type=Path, required=True)
        parser.add_argument("--customer", required=True)
        parser.add_argument("--balance", required=True)
        parser.add_argument("--stake", default="10.00")
        parser.add_argument("--payout", default="18.50")

    def handle(self, *args, **o):
        if settings.B2B_ENVIRONMENT != "sandbox":
            raise CommandError("sandbox_trade only works when B2B_ENVIRONMENT=sandbox")
        self.key = load_es256_private_key(o["private_key"])
        base = f"{o['url'].rstrip('/')}/v1/customers/{o['customer']}/balances/{o['balance']}"
        status, balance = self.call("GET", base)
        if status != 200:
            raise CommandError(f"get balance answered {status}: {balance}")
        currency = balance["currency_code"]
        debit = {"request_id": f"open-{uuid.uuid4()}", "amount": o["stake"], "currency_code": currency,
                 "comment": "option opened"}
        status, opened = self.call("POST", f"{base}/debit", debit)
        if status != 201:
            raise CommandError(f"debit answered {status}: {opened}")
        status, replayed = self.call("POST", f"{base}/debit", debit)
        if (status, replayed) != (201, opened):
            raise CommandError(f"a replayed debit answered {status}: {replayed}")
        self.stdout.write("   (the same debit sent again got the same answer and moved nothing)")
        credit = {"request_id": f"close-{uuid.uuid4()}", "amount": o["payout"], "currency_code": currency,
                  "comment": "option closed with a profit"}
        status, closed = self.call("POST", f"{base}/credit", credit)
        if status != 201:
            raise CommandError(f"credit answered {status}: {closed}")
        expected = Decimal(balance["amount"]) - Decimal(o["stake"]) + Decimal(o["payout"])
        if Decimal(closed["balance_current_amount"]) != expected:
            raise CommandError(f"balance is {closed['balance_current_amount']}, expected {expected}")
        self.stdout.write(self.style.SUCCESS(
            f"trade done: {balance['amount']} - {opened['amount']} + {closed['amount']} = "
            f"{closed['balance_current_amount']} {currency}"))

    def call(self, method, url, payload=None):
        now = int(time.time())
        token = jwt.encode({"iss": settings.QUADCODE_JWT_ISSUER, "aud": "sandbox", "iat": now, "exp": now + 60},
                           self.key, algorithm="ES256")
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        self.stdout.write(f"-> {method} {url.split('/v1/', 1)[1] if '/v1/' in url else url}"
                          + (f" {json.dumps(payload)}" if payload else ""))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, body = exc.code, json.loads(exc.read() or b"{}")
        self.stdout.write(f"<- {status} {json.dumps(body)}")
        return status, body
