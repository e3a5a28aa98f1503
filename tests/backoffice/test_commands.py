"""The operator interface the staff controls pin (scripts and runbooks depend on it):

    manage.py adjust_balance BALANCE_ID {deposit|withdrawal|correction_in|correction_out} AMOUNT --reason --by --key
    manage.py approve_adjustment REQUEST_ID --by USERNAME
    manage.py reject_adjustment REQUEST_ID --by USERNAME --reason TEXT
    manage.py reverse_operation OPERATION_ID --reason TEXT --by USERNAME --key KEY
    manage.py block_customer CUSTOMER_ID [--unblock] [--reason TEXT] [--by USERNAME]
    manage.py audit_log [--since ISO-8601] [--actor USERNAME] [--json]
    manage.py staff_mfa_enroll USERNAME

The first line of stdout is `posted OPERATION_ID` or `pending REQUEST_ID`; exit 0 on success or
replay, non-zero with a one-line reason on stderr for every refusal, and then nothing changed.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from backoffice.models import AdjustmentRequest
from balances.models import Balance, LedgerEntry
from tests.backoffice.conftest import everything

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str) -> subprocess.CompletedProcess:
    """The command as an operator's script runs it: its own process, on the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "B2B_ENVIRONMENT": "sandbox", "QUADCODE_PUBLIC_KEY_FILES": "",
           "QUADCODE_API_URL": "", "REQUEST_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def balance(make_balance):
    return make_balance("100.00")


def refused(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert result.stdout == ""


def test_a_small_deposit_prints_posted_and_its_replay_prints_the_same(balance, clerk):
    args = ("adjust_balance", balance.balance_id, "deposit", "25.00", "--reason", "wire 123", "--by", "clerk",
            "--key", "dep-1")
    first = manage(*args)
    assert first.returncode == 0, first.stderr
    operation_id = LedgerEntry.objects.filter(balance=balance).latest("id").operation_id
    assert first.stdout.splitlines()[0] == f"posted {operation_id}"
    again = manage(*args)
    assert (again.returncode, again.stdout.splitlines()[0]) == (0, f"posted {operation_id}")
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("125.00")


def test_a_withdrawal_prints_pending_then_approval_prints_posted(balance, clerk, approver):
    requested = manage("adjust_balance", balance.balance_id, "withdrawal", "40.00", "--reason", "payout", "--by",
                       "clerk", "--key", "wd-1")
    request = AdjustmentRequest.objects.get()
    assert (requested.returncode, requested.stdout.splitlines()[0]) == (0, f"pending {request.pk}")
    approved = manage("approve_adjustment", str(request.pk), "--by", "approver")
    request.refresh_from_db()
    assert (approved.returncode, approved.stdout.splitlines()[0]) == (0, f"posted {request.operation_id}")
    assert manage("approve_adjustment", str(request.pk), "--by", "approver").returncode == 0  # a replay
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("60.00")


def test_a_rejection_with_its_reason(balance, clerk, approver):
    manage("adjust_balance", balance.balance_id, "withdrawal", "40.00", "--reason", "payout", "--by", "clerk",
           "--key", "wd-1")
    request = AdjustmentRequest.objects.get()
    result = manage("reject_adjustment", str(request.pk), "--by", "approver", "--reason", "no KYC")
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, f"rejected {request.pk}")
    assert Balance.objects.get(pk=balance.pk).amount == Decimal("100.00")


def test_a_reversal_prints_posted(balance, clerk):
    manage("adjust_balance", balance.balance_id, "deposit", "25.00", "--reason", "wire", "--by", "clerk", "--key", "d")
    deposit = LedgerEntry.objects.filter(balance=balance).latest("id").operation_id
    result = manage("reverse_operation", str(deposit), "--reason", "wrong customer", "--by", "clerk", "--key", "r")
    reversal = LedgerEntry.objects.filter(balance=balance).latest("id")
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, f"posted {reversal.operation_id}")
    assert (reversal.kind, reversal.operation.reversal_of_id) == ("reversal_out", deposit)


@pytest.mark.parametrize("args,reason", [
    (["adjust_balance", "{balance}", "withdrawal", "500.00", "--reason", "x", "--by", "clerk", "--key", "k"],
     "insufficient_funds"),
    (["adjust_balance", "{balance}", "deposit", "1.001", "--reason", "x", "--by", "clerk", "--key", "k"],
     "invalid_amount"),
    (["adjust_balance", "{balance}", "deposit", "1.00", "--reason", "x", "--by", "nobody", "--key", "k"],
     "not an active staff member"),
    (["adjust_balance", "{balance}", "deposit", "1.00", "--reason", "x", "--by", "approver2", "--key", "k"],
     "does not hold the permission balances.adjust_balance"),
    (["adjust_balance", "no-such-balance", "deposit", "1.00", "--reason", "x", "--by", "clerk", "--key", "k"],
     "balance_not_found"),
    (["adjust_balance", "{balance}", "deposit", "1.00", "--reason", "  ", "--by", "clerk", "--key", "k"],
     "needs a reason"),
    (["approve_adjustment", "999999", "--by", "approver"], "request_not_found"),
    (["approve_adjustment", "1", "--by", "clerk"], "does not hold the permission balances.approve_adjustment"),
    (["reverse_operation", "{opening}", "--reason", "x", "--by", "clerk", "--key", "k"], None),
])
def test_every_refusal_is_one_line_on_stderr_a_non_zero_exit_and_changes_nothing(balance, clerk, second_approver,
                                                                                 approver, args, reason):
    opening = LedgerEntry.objects.get(balance=balance).operation_id
    args = [arg.format(balance=balance.balance_id, opening=opening) for arg in args]
    if reason is None:  # reversing the opening deposit is allowed: reverse it once, then the refusal
        assert manage(*args).returncode == 0
        args[-1], reason = "another-key", "already_reversed"
    snapshot = everything()
    refused(manage(*args), reason)
    assert everything() == snapshot


def test_the_same_key_with_other_details_is_refused(balance, clerk):
    manage("adjust_balance", balance.balance_id, "deposit", "25.00", "--reason", "wire", "--by", "clerk", "--key", "k")
    snapshot = everything()
    refused(manage("adjust_balance", balance.balance_id, "deposit", "26.00", "--reason", "wire", "--by", "clerk",
                   "--key", "k"), "key_conflict")
    assert everything() == snapshot


def test_the_requester_may_not_approve(balance, approver):
    manage("adjust_balance", balance.balance_id, "withdrawal", "10.00", "--reason", "x", "--by", "approver", "--key",
           "k")
    request = AdjustmentRequest.objects.get()
    snapshot = everything()
    refused(manage("approve_adjustment", str(request.pk), "--by", "approver"), "own_request")
    assert everything() == snapshot


def test_block_customer_records_who_and_why(balance, django_user_model):
    from tests.backoffice.conftest import staff_member

    staff_member(django_user_model, "ops", "customers.block_customer")
    customer = balance.customer.customer_id
    assert manage("block_customer", customer, "--reason", "chargeback fraud", "--by", "ops").returncode == 0
    assert manage("block_customer", customer, "--unblock").returncode == 0  # without --by: the OS user
    log = manage("audit_log", "--json")
    events = [json.loads(line) for line in log.stdout.splitlines()]
    assert [(e["actor"], e["action"], e["target"], e["details"].get("reason")) for e in events] == [
        ("ops", "customer_blocked", f"customer:{customer}", "chargeback fraud"),
        (f"cli:{getpass.getuser()}", "customer_unblocked", f"customer:{customer}", ""),
    ]
    refused(manage("block_customer", customer, "--by", "nobody"), "not an active staff member")


def test_audit_log_filters_by_actor_and_time_and_prints_json_lines(balance, clerk, approver):
    manage("adjust_balance", balance.balance_id, "deposit", "25.00", "--reason", "wire", "--by", "clerk", "--key", "a")
    manage("adjust_balance", balance.balance_id, "withdrawal", "5.00", "--reason", "out", "--by", "approver", "--key",
           "b")
    by_clerk = [json.loads(line) for line in manage("audit_log", "--json", "--actor", "clerk").stdout.splitlines()]
    assert [e["action"] for e in by_clerk] == ["adjustment_requested", "adjustment_posted"]
    assert all({"time", "actor", "action", "target", "details"} <= set(e) for e in by_clerk)
    assert by_clerk[0]["details"]["amount"] == "25.00"
    assert manage("audit_log", "--json", "--since", "2999-01-01").stdout == ""
    assert "adjustment_requested" in manage("audit_log").stdout
    refused(manage("audit_log", "--since", "yesterday"), "--since must be an ISO 8601")


def test_staff_mfa_enroll_prints_a_uri_whose_next_code_works_at_once(clerk, django_user_model):
    from urllib.parse import parse_qs, urlsplit

    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    result = manage("staff_mfa_enroll", "clerk")
    assert result.returncode == 0, result.stderr
    uri = result.stdout.splitlines()[0]
    assert uri.startswith("otpauth://totp/") and "clerk" in uri
    assert "█" in result.stdout or "▀" in result.stdout  # the QR code, drawn in the terminal
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    device = TOTPDevice.objects.get(user__username="clerk")
    assert device.confirmed
    import base64

    assert base64.b32encode(device.bin_key).decode().rstrip("=") == secret
    assert device.verify_token(f"{totp(device.bin_key):06d}")
    assert manage("staff_mfa_enroll", "clerk").returncode == 0  # replaced: still one device
    assert TOTPDevice.objects.filter(user__username="clerk").count() == 1
    refused(manage("staff_mfa_enroll", "nobody"), "not an active staff member")
