"""Money that staff move, against PostgreSQL: idempotency keys, four eyes, holds, approval,
rejection, expiry, reversals — and every refusal leaving the ledger, the requests and the audit
trail exactly as they were."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from backoffice.errors import KeyConflict, OwnRequest, RequestNotPending
from backoffice.models import AdjustmentRequest
from backoffice.services import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
    adjustment_requests_sweep,
    operation_reverse,
)
from balances.errors import AlreadyReversed, InsufficientFunds, OperationNotReversible
from balances.models import Balance, LedgerEntry, Operation
from balances.selectors import balance_held
from balances.verify import ledger_verify
from tests.backoffice.conftest import actions, everything
from tests.conftest import body, ids, run_parallel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def balance(make_balance):
    return make_balance("100.00")


def amount_of(balance) -> Decimal:
    return Balance.objects.get(pk=balance.pk).amount


def ask(balance, actor, kind="deposit", amount="10.00", key="k-1", reason="wire from customer"):
    return adjustment_request(balance_id=balance.balance_id, kind=kind, amount=Decimal(amount), reason=reason,
                              key=key, actor=actor)


# --- idempotent adjustments ------------------------------------------------------------------

def test_a_small_deposit_is_posted_at_once_and_its_key_replays_the_same_outcome(balance, clerk):
    first = ask(balance, clerk)
    assert (first.state, first.replayed, first.line) == ("posted", False, f"posted {first.operation_id}")
    snapshot = everything()
    again = ask(balance, clerk)
    assert (again.state, again.operation_id, again.request_id, again.replayed) == (
        "posted", first.operation_id, first.request_id, True)
    assert everything() == snapshot  # nothing new: no entry, no request, no audit row
    assert amount_of(balance) == Decimal("110.00")
    assert actions(f"request:{first.request_id}") == ["adjustment_requested", "adjustment_posted"]
    entry = LedgerEntry.objects.get(operation_id=first.operation_id)
    assert (entry.kind, entry.comment, entry.created_by.username) == ("deposit", "wire from customer", "clerk")


@pytest.mark.parametrize("change", [{"amount": "10.01"}, {"kind": "correction_in"}, {"reason": "another reason"}])
def test_the_same_key_with_other_details_is_a_key_conflict_and_posts_nothing(balance, clerk, change):
    ask(balance, clerk)
    snapshot = everything()
    with pytest.raises(KeyConflict):
        ask(balance, clerk, **change)
    assert everything() == snapshot


def test_the_same_key_on_another_balance_is_a_conflict_too(balance, make_balance, clerk):
    other = make_balance("5.00")
    ask(balance, clerk)
    snapshot = everything()
    with pytest.raises(KeyConflict):
        ask(other, clerk)
    assert everything() == snapshot


def test_parallel_submissions_of_one_key_post_once(balance, clerk):
    outcomes = run_parallel(8, lambda i: ask(balance, clerk, key="double-click"))
    assert {o.operation_id for o in outcomes} == {outcomes[0].operation_id}
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 7
    assert LedgerEntry.objects.filter(balance=balance, kind="deposit").count() == 2  # the opening one and this
    assert amount_of(balance) == Decimal("110.00")
    assert actions().count("adjustment_posted") == 1


@pytest.mark.parametrize("kind,amount,problem", [
    ("withdrawal", "100.01", InsufficientFunds), ("correction_out", "500", InsufficientFunds),
])
def test_a_refused_request_leaves_nothing(balance, clerk, kind, amount, problem):
    snapshot = everything()
    with pytest.raises(problem):
        ask(balance, clerk, kind=kind, amount=amount)
    assert everything() == snapshot


def test_a_staff_member_without_the_permission_may_not_ask(balance, django_user_model):
    from audit.errors import PermissionMissing
    from tests.backoffice.conftest import staff_member

    nobody = Actor.staff(staff_member(django_user_model, "viewer"))
    snapshot = everything()
    with pytest.raises(PermissionMissing):
        ask(balance, nobody)
    assert everything() == snapshot


# --- four eyes and holds ---------------------------------------------------------------------

def test_a_withdrawal_waits_for_approval_and_holds_its_funds_at_once(balance, clerk, approver, quadcode):
    pending = ask(balance, clerk, kind="withdrawal", amount="60.00", key="wd-1")
    assert (pending.state, pending.line) == ("pending", f"pending {pending.request_id}")
    # What Quadcode sees and may debit drops by the held amount at once.
    assert quadcode.get_balance(*ids(balance)).json()["amount"] == "40.00"
    refused = quadcode.debit(*ids(balance), body("50.00"))
    assert refused.status_code == 402
    assert balance_held(balance=balance) == Decimal("60.00")
    posted = adjustment_approve(request_id=pending.request_id, actor=approver)
    assert posted.state == "posted"
    kinds = list(LedgerEntry.objects.filter(balance=balance).order_by("id").values_list("kind", "realized_amount"))
    assert kinds == [("deposit", Decimal("100.00")), ("hold", Decimal("60.00")), ("release", Decimal("60.00")),
                     ("withdrawal", Decimal("60.00"))]
    assert amount_of(balance) == Decimal("40.00") and balance_held(balance=balance) == 0
    assert actions(f"request:{pending.request_id}") == ["adjustment_requested", "adjustment_approved",
                                                        "adjustment_posted"]
    withdrawal = LedgerEntry.objects.get(operation_id=posted.operation_id)
    assert withdrawal.created_by.username == "approver"
    assert ledger_verify() == []


@pytest.mark.parametrize("thresholds,amount,state", [
    ({"*": Decimal("1000")}, "999.99", "posted"), ({"*": Decimal("1000")}, "1000.00", "pending"),
    ({"USD": Decimal("5000"), "*": Decimal("10")}, "4999.99", "posted"),
    ({"EUR": Decimal("5000"), "*": Decimal("10")}, "10.00", "pending"),
    ({"EUR": Decimal("5000")}, "0.01", "pending"),  # no threshold for USD at all: always four eyes
])
def test_adjustments_at_or_above_the_threshold_of_their_currency_wait(balance, clerk, settings, thresholds,
                                                                       amount, state):
    settings.B2B_FOUR_EYES_FROM = thresholds
    outcome = ask(balance, clerk, kind="deposit", amount=amount)
    assert outcome.state == state
    # An incoming request holds nothing: the balance moves only when it is posted.
    expected = Decimal("100.00") + (Decimal(amount) if state == "posted" else 0)
    assert amount_of(balance) == expected


def test_nobody_approves_or_rejects_their_own_request(balance, approver):
    pending = ask(balance, approver, kind="withdrawal", amount="10.00")
    snapshot = everything()
    with pytest.raises(OwnRequest):
        adjustment_approve(request_id=pending.request_id, actor=approver)
    with pytest.raises(OwnRequest):
        adjustment_reject(request_id=pending.request_id, actor=approver, reason="changed my mind")
    assert everything() == snapshot


def test_approving_twice_changes_nothing(balance, clerk, approver, second_approver):
    pending = ask(balance, clerk, kind="withdrawal", amount="10.00")
    first = adjustment_approve(request_id=pending.request_id, actor=approver)
    snapshot = everything()
    again = adjustment_approve(request_id=pending.request_id, actor=approver)
    other = adjustment_approve(request_id=pending.request_id, actor=second_approver)
    assert (again.operation_id, other.operation_id, again.replayed, other.replayed) == (
        first.operation_id, first.operation_id, True, True)
    assert everything() == snapshot


def test_two_approvers_racing_post_once(balance, clerk, approver, second_approver):
    pending = ask(balance, clerk, kind="withdrawal", amount="70.00")
    approvers = [approver, second_approver] * 3
    outcomes = run_parallel(6, lambda i: adjustment_approve(request_id=pending.request_id, actor=approvers[i]))
    assert {o.operation_id for o in outcomes} == {outcomes[0].operation_id}
    assert [o.replayed for o in outcomes].count(False) == 1
    assert LedgerEntry.objects.filter(balance=balance, kind="withdrawal").count() == 1
    assert amount_of(balance) == Decimal("30.00")
    assert actions().count("adjustment_approved") == 1 and actions().count("adjustment_posted") == 1
    assert ledger_verify() == []


def test_a_hold_and_a_quadcode_debit_racing_for_the_same_money_never_go_below_zero(balance, clerk, quadcode, mint):
    from tests.conftest import QuadcodeCaller

    token = mint()

    def race(i):
        if i % 2:
            return ask(balance, clerk, kind="withdrawal", amount="80.00", key=f"race-{i}")
        return QuadcodeCaller(mint).debit(*ids(balance), body("80.00"), token=token).status_code

    results = run_parallel(6, race)
    holds = [r for r in results[1::2] if not isinstance(r, InsufficientFunds)]
    debits = [r for r in results[0::2] if r == 201]
    assert len(holds) + len(debits) == 1  # 100.00 covers exactly one 80.00 of the six
    assert set(results[0::2]) <= {201, 402}
    assert amount_of(balance) == Decimal("20.00")
    assert ledger_verify() == []


def test_a_rejection_releases_the_hold_and_gives_its_reason(balance, clerk, approver, quadcode):
    pending = ask(balance, clerk, kind="withdrawal", amount="25.00")
    rejected = adjustment_reject(request_id=pending.request_id, actor=approver, reason="IBAN does not match")
    assert rejected.state == "rejected"
    assert quadcode.get_balance(*ids(balance)).json()["amount"] == "100.00"
    request = AdjustmentRequest.objects.get(pk=pending.request_id)
    assert (request.decided_by, request.decision_reason) == ("approver", "IBAN does not match")
    assert actions(f"request:{pending.request_id}") == ["adjustment_requested", "adjustment_rejected"]
    snapshot = everything()
    again = adjustment_reject(request_id=pending.request_id, actor=approver, reason="IBAN does not match")
    assert again.replayed and everything() == snapshot
    with pytest.raises(RequestNotPending):
        adjustment_approve(request_id=pending.request_id, actor=approver)
    assert everything() == snapshot
    assert ledger_verify() == []


def test_a_pending_request_expires_after_the_expiry_and_its_hold_is_released(balance, clerk, settings):
    settings.B2B_REQUEST_EXPIRY = 7 * 86400
    posted = ask(balance, clerk, kind="correction_out", amount="30.00", key="exp")
    assert posted.state == "posted"  # below the threshold: a correction out is posted at once
    waiting = ask(balance, clerk, kind="withdrawal", amount="30.00", key="exp-wd")
    assert adjustment_requests_sweep(now=timezone.now() + dt.timedelta(days=6)).expired == 0
    swept = adjustment_requests_sweep(now=timezone.now() + dt.timedelta(days=7, minutes=1))
    assert swept.expired == 1
    request = AdjustmentRequest.objects.get(pk=waiting.request_id)
    assert (request.state, request.decided_by) == ("expired", "system")
    assert amount_of(balance) == Decimal("70.00")  # 100 - the posted correction; the withdrawal's hold is back
    assert actions(f"request:{waiting.request_id}") == ["adjustment_requested", "adjustment_expired"]
    assert ledger_verify() == []


def test_an_interrupted_approval_is_finished_by_the_sweep(balance, clerk, approver):
    pending = ask(balance, clerk, kind="withdrawal", amount="10.00")
    # As if the approving process died right after recording the decision.
    AdjustmentRequest.objects.filter(pk=pending.request_id).update(
        state="approved", decided_by="approver", decided_by_user_id=approver.user_id,
        decided_at=timezone.now() - dt.timedelta(minutes=5))
    assert adjustment_requests_sweep().finished == 1
    assert AdjustmentRequest.objects.get(pk=pending.request_id).state == "posted"
    assert LedgerEntry.objects.filter(balance=balance, kind="withdrawal").count() == 1
    assert adjustment_requests_sweep().finished == 0
    assert ledger_verify() == []


# --- reversals -------------------------------------------------------------------------------

def test_a_posted_adjustment_is_reversed_once_by_a_linked_opposite_entry(balance, clerk):
    deposit = ask(balance, clerk, kind="deposit", amount="15.00", key="dep")
    reversal = operation_reverse(operation_id=deposit.operation_id, reason="posted to the wrong balance",
                                 key="rev-1", actor=clerk)
    assert reversal.state == "posted"
    linked = Operation.objects.get(pk=reversal.operation_id)
    assert (linked.kind, linked.amount, linked.reversal_of_id) == ("reversal_out", Decimal("15.00"),
                                                                  deposit.operation_id)
    assert amount_of(balance) == Decimal("100.00")
    assert actions(f"operation:{deposit.operation_id}") == ["operation_reversed"]
    snapshot = everything()
    assert operation_reverse(operation_id=deposit.operation_id, reason="posted to the wrong balance", key="rev-1",
                             actor=clerk).replayed
    with pytest.raises(AlreadyReversed):
        operation_reverse(operation_id=deposit.operation_id, reason="again", key="rev-2", actor=clerk)
    assert everything() == snapshot
    assert ledger_verify() == []


def test_a_big_reversal_takes_four_eyes_and_holds_what_it_takes_back(balance, clerk, approver, settings):
    settings.B2B_FOUR_EYES_FROM = {"*": Decimal("50")}
    deposit = ask(balance, clerk, kind="deposit", amount="40.00", key="dep")
    assert deposit.state == "posted"
    settings.B2B_FOUR_EYES_FROM = {"*": Decimal("20")}
    pending = operation_reverse(operation_id=deposit.operation_id, reason="duplicate wire", key="rev", actor=clerk)
    assert pending.state == "pending"
    assert amount_of(balance) == Decimal("100.00")  # 140 - 40 held
    posted = adjustment_approve(request_id=pending.request_id, actor=approver)
    assert Operation.objects.get(pk=posted.operation_id).reversal_of_id == deposit.operation_id
    assert amount_of(balance) == Decimal("100.00") and balance_held(balance=balance) == 0
    assert ledger_verify() == []


@pytest.mark.parametrize("operation", ["debit", "credit"])
def test_quadcodes_debits_and_credits_are_never_reversed_here(balance, clerk, quadcode, operation):
    response = quadcode.post(*ids(balance), operation, body("5.00"))
    operation_id = response.json()["operation_id"]
    snapshot = everything()
    with pytest.raises(OperationNotReversible, match="the position lives on the platform"):
        operation_reverse(operation_id=operation_id, reason="customer complained", key="no", actor=clerk)
    assert everything() == snapshot


def test_the_database_refuses_a_second_reversal_whatever_the_code_does(balance, clerk):
    from django.db import IntegrityError

    deposit = ask(balance, clerk, kind="deposit", amount="15.00", key="dep")
    operation_reverse(operation_id=deposit.operation_id, reason="wrong", key="rev", actor=clerk)
    original = Operation.objects.get(pk=deposit.operation_id)
    with pytest.raises(IntegrityError):
        Operation.objects.create(request_id="sneaky", kind="reversal_out", balance_id=original.balance_id,
                                 amount=original.amount, reversal_of=original)


# --- the audit trail is append-only ----------------------------------------------------------

@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET actor = 'someone else'",
                                       "DELETE FROM audit_auditevent"])
def test_the_audit_trail_refuses_update_and_delete(balance, clerk, statement):
    from django.db import DatabaseError, transaction

    ask(balance, clerk)
    snapshot = everything()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert everything() == snapshot
