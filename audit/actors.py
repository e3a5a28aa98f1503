"""Who acts: every service that changes something on someone's behalf takes an `Actor`."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    label: str  # as the audit trail shows it
    user_id: int | None = None  # the login behind it, when there is one (a staff member, a customer)
    # What a non-person actor (an API key) may do, by permission name; None for people, whose
    # permissions are their login's.
    grants: frozenset[str] | None = None

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
    def api(cls, key_id: str, grants: frozenset[str] = frozenset()) -> Actor:
        return cls(label=f"api:{key_id}", grants=frozenset(grants))

    def holds(self, permission: str) -> bool:
        """Whether this actor may act under `permission`: an API key by its role's grants, a
        person by their login (active staff holding it)."""
        if self.grants is not None:
            return permission in self.grants
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=self.user_id).first() if self.user_id else None
        return user is not None and user.is_active and user.is_staff and user.has_perm(permission)

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
