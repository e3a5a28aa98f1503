"""Who acts: every service that changes something on someone's behalf takes an `Actor`."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # as the audit trail shows it
    user_id: int | None = None  # the login behind it, when there is one (a staff member, a customer)

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(label=user.get_username(), user_id=user.pk)

    @classmethod
    def cli(cls) -> Actor:
        """A command run without --by: the operating-system user who ran it."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(label=f"cli:{name}")

    @classmethod
    def api(cls, key_id: str) -> Actor:
        return cls(label=f"api:{key_id}")

    @classmethod
    def customer(cls, customer_id: str, user_id: int | None) -> Actor:
        return cls(label=f"customer:{customer_id}", user_id=user_id)

    @classmethod
    def system(cls) -> Actor:
        return cls(label="system")


def staff_actor(*, username: str, permission: str) -> Actor:
    """An active staff member holding `permission` (what the commands' `--by USERNAME` names)."""
    from django.contrib.auth import get_user_model

    from audit.errors import PermissionMissing

    user = get_user_model().objects.filter(username=username).first()
    if user is None or not user.is_active or not user.is_staff:
        raise PermissionMissing(f"{username!r} is not an active staff member.")
    if not user.has_perm(permission):
        raise PermissionMissing(f"{username} does not hold the permission {permission}.")
    return Actor.staff(user)
