"""Roles and tiers: the one place that says who a user is and what tier they work.

A user's role is stored on the user (``User.role``). Everything else, tier,
"is an agent", "may manage configuration", is derived here, so no other module
compares role strings.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.db import models


class HasRole(Protocol):
    """What the rules read of a user (helpdesk.models.User, or Django's anonymous
    user, which is never authenticated). A protocol, not an import: the user model
    imports this module, and the arrow points one way."""

    role: str
    is_active: bool

    @property
    def is_authenticated(self) -> bool: ...


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    L1 = "l1", "L1 agent"
    L2 = "l2", "L2 engineer"
    L3 = "l3", "L3 engineer"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Administrator"


AGENT_ROLES = frozenset({Role.L1, Role.L2, Role.L3, Role.MANAGER, Role.ADMIN})
MANAGER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
# Roles a manager may create; only admins create managers and admins.
MANAGER_CREATABLE_ROLES = frozenset({Role.CUSTOMER, Role.L1, Role.L2, Role.L3})

_ROLE_TIER = {Role.L1: 1, Role.L2: 2, Role.L3: 3, Role.MANAGER: 3, Role.ADMIN: 3}
# The role whose queue a tier is.
TIER_ROLE = {1: Role.L1, 2: Role.L2, 3: Role.L3}


def max_tier() -> int:
    """The last tier in use (``HELPDESK_TIERS``); escalation never goes past it."""
    return settings.HELPDESK_TIERS


def tiers() -> list[int]:
    return list(range(1, max_tier() + 1))


def tier_of(user: HasRole) -> int | None:
    """The highest tier a user works, capped by the tiers in use; None for customers."""
    tier = _ROLE_TIER.get(user.role)
    return None if tier is None else min(tier, max_tier())


def is_agent(user: HasRole) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in AGENT_ROLES)


def is_manager(user: HasRole) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role in MANAGER_ROLES)


def is_customer(user: HasRole) -> bool:
    return bool(user.is_authenticated and user.role == Role.CUSTOMER)


def can_work_tier(user: HasRole, tier: int) -> bool:
    """Agents of tier N may claim and work tickets of tier <= N. Managers work
    every tier, even one left over after HELPDESK_TIERS was lowered."""
    if is_manager(user):
        return True
    own = tier_of(user) if is_agent(user) else None
    return own is not None and tier <= own


def max_escalation_tier(user: HasRole) -> int:
    """Highest tier this user may escalate a ticket to: one above their own, managers anywhere."""
    if is_manager(user):
        return max_tier()
    own = tier_of(user) if is_agent(user) else None
    return 0 if own is None else min(own + 1, max_tier())


def can_create_role(creator: HasRole, role: str) -> bool:
    if creator.role == Role.ADMIN:
        return True
    return creator.role == Role.MANAGER and role in MANAGER_CREATABLE_ROLES


def listable_roles(user: HasRole) -> frozenset[str]:
    """Roles of the users a manager or admin sees in the user list: admins every role,
    managers those they manage (the roles they may create), not admins or other managers."""
    if not is_manager(user):
        return frozenset()
    return frozenset(Role.values) if user.role == Role.ADMIN else MANAGER_CREATABLE_ROLES
