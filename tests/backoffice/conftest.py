"""Staff members with the permissions the staff controls name, and what a refusal must leave alone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from audit.actors import Actor
from audit.models import AuditEvent
from backoffice.models import AdjustmentRequest
from tests.conftest import ledger_snapshot


def staff_member(django_user_model, username: str, *permissions: str):
    user = django_user_model.objects.create_user(username, password=f"pw-{username}-2026", is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def clerk(db, django_user_model) -> Actor:
    """May ask for adjustments."""
    return Actor.staff(staff_member(django_user_model, "clerk", "balances.adjust_balance",
                                    "backoffice.view_adjustmentrequest"))


@pytest.fixture
def approver(db, django_user_model) -> Actor:
    """May approve and reject other people's requests."""
    return Actor.staff(staff_member(django_user_model, "approver", "balances.approve_adjustment",
                                    "balances.adjust_balance", "backoffice.view_adjustmentrequest"))


@pytest.fixture
def second_approver(db, django_user_model) -> Actor:
    return Actor.staff(staff_member(django_user_model, "approver2", "balances.approve_adjustment",
                                    "backoffice.view_adjustmentrequest"))


def everything() -> tuple:
    """The ledger, the requests and the audit trail: what a refusal must leave exactly as it was."""
    requests = list(AdjustmentRequest.objects.order_by("id").values_list("id", "state", "hold_id", "operation_id"))
    return ledger_snapshot(), requests, AuditEvent.objects.count()


def actions(target: str | None = None) -> list[str]:
    events = AuditEvent.objects.order_by("id")
    if target:
        events = events.filter(target=target)
    return list(events.values_list("action", flat=True))
