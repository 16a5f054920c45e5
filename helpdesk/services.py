"""User administration use cases: the API and the admin save users through them."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import Q

from helpdesk import roles
from helpdesk.errors import InvalidInput, NotAllowed
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.tokens import api_tokens_revoke_all


def user_role_apply(*, user: User, role: str) -> None:
    """Give ``user`` the role and what follows from it (not saved): managers and
    admins may log into the admin site (``is_staff``), admins hold every
    permission there (``is_superuser``). The one place that derives them."""
    user.role = role
    user.is_staff = role in roles.MANAGER_ROLES
    user.is_superuser = role == Role.ADMIN


def _require_may_create(creator: User, role: str) -> None:
    if not roles.can_create_role(creator, role):
        raise NotAllowed(f"You may not create {role} users.")


def user_create(*, creator: User, data: dict[str, Any]) -> User:
    """Admins create any role; managers create customers and agents of tiers 1-3."""
    role = data.get("role", Role.CUSTOMER)
    _require_may_create(creator, role)
    password = data.pop("password", None)
    user = User(**data)
    user_role_apply(user=user, role=role)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def user_save(*, actor: User, user: User, changed: Collection[str]) -> User:
    """Save a user edited as a whole (the admin's form; a new one when it has no
    pk): a role only whoever may create it gives, the staff flags derived from
    it, a new e-mail address forgets the old one's bounce, and a deactivation
    revokes the user's API tokens. (An inactive user's tokens already fail;
    deleting them keeps a reactivation from bringing them back. A password
    change needs nothing: ``helpdesk.tokens``.)"""
    adding = user.pk is None
    if adding or "role" in changed:
        _require_may_create(actor, user.role)
    user_role_apply(user=user, role=user.role)
    if not adding and "email" in changed:
        _bounce_forget(user)  # a new address has not bounced
    with transaction.atomic():
        user.save()
        if not adding and "is_active" in changed and not user.is_active:
            api_tokens_revoke_all(user=user)
    return user


NOTIFICATION_SETTINGS = ("notify_assigned", "notify_customer_reply", "notify_escalated")


def user_notification_settings_update(*, user: User, changes: dict[str, bool]) -> User:
    """A user's own switches for agent e-mail (docs/EMAIL.md "Agents"). They are
    agents' only: a customer gets no agent mail, so naming one is refused and
    nothing changes. Writes only the switches that differ."""
    unknown = sorted(set(changes) - set(NOTIFICATION_SETTINGS))
    if unknown:
        raise InvalidInput({field: ["Unknown field."] for field in unknown})
    if changes and not roles.is_agent(user):
        raise InvalidInput({field: ["Only agents receive agent e-mail."] for field in changes})
    if any(not isinstance(value, bool) for value in changes.values()):
        raise InvalidInput({f: ["True or false."] for f, v in changes.items() if not isinstance(v, bool)})
    differ = [field for field, value in changes.items() if getattr(user, field) != value]
    for field in differ:
        setattr(user, field, changes[field])
    if differ:
        user.save(update_fields=differ)
    return user


def _bounce_forget(user: User) -> None:
    user.email_bouncing_since, user.email_bounce_reason = None, ""


def user_email_bounce_clear(*, user: User) -> bool:
    """Forget that mail to the user's address bounced (an agent checked the address,
    or it changed: ``user_save``). Whoever may see the flag decides; the page that
    offers it authorises. Returns whether there was a flag to clear."""
    flagged = Q(email_bouncing_since__isnull=False) | ~Q(email_bounce_reason="")
    cleared = User.objects.filter(flagged, pk=user.pk).update(email_bouncing_since=None, email_bounce_reason="")
    _bounce_forget(user)
    return bool(cleared)
