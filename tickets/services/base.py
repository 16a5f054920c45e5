"""Helpers shared by the ticket services: locking, versions, permission checks."""

from __future__ import annotations

from helpdesk import roles
from helpdesk.errors import Conflict, NotAllowed
from helpdesk.models import User

# The one version check every versioned object uses; the ticket services import it from here.
from helpdesk.versioning import bump_version
from helpdesk.versioning import check_version as check_version
from tickets.models import (
    Ticket,
)

# --- helpers -----------------------------------------------------------------


def lock_ticket(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update(of=("self",)).select_related("category").get(pk=pk)


def save_ticket(ticket: Ticket, *fields: str) -> None:
    ticket.save(update_fields=bump_version(ticket, fields))


def require_worker(actor: User, ticket: Ticket) -> None:
    """Agents of tier N work tickets of tier <= N."""
    if not roles.can_work_tier(actor, ticket.tier):
        raise NotAllowed(f"Tier {ticket.tier} tickets need a tier {ticket.tier} agent or above.")


def require_active(ticket: Ticket, action: str) -> None:
    if ticket.is_done:
        raise Conflict(f"Cannot {action} a {ticket.status} ticket.")
