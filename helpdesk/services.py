"""User administration use cases."""

from __future__ import annotations

from typing import Any

from helpdesk import roles
from helpdesk.errors import NotAllowed
from helpdesk.models import User
from helpdesk.roles import Role


def user_create(*, creator: User, data: dict[str, Any]) -> User:
    """Admins create any role; managers create customers and agents of tiers 1-3."""
    role = data.get("role", Role.CUSTOMER)
    if not roles.can_create_role(creator, role):
        raise NotAllowed(f"You may not create {role} users.")
    password = data.pop("password", None)
    user = User(**data)
    user.is_staff = role in roles.MANAGER_ROLES
    user.is_superuser = role == Role.ADMIN
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user
