"""Second factors for staff: TOTP devices (django-otp)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actors import Actor
from audit.errors import PermissionMissing
from audit.models import Action
from audit.services import audit_record


@transaction.atomic
def staff_mfa_enroll(*, username: str, actor: Actor) -> str:
    """Give an active staff member one new, confirmed TOTP device (replacing any other) and return
    its otpauth:// URI: the next code from it verifies at once."""
    user = get_user_model().objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None:
        raise PermissionMissing(f"{username!r} is not an active staff member.")
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    audit_record(actor=actor, action=Action.MFA_ENROLLED, target=f"user:{username}",
                 details={"device": device.name, "replaced": True})
    return device.config_url


def staff_mfa_status(*, user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
