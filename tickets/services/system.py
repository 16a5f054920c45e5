"""Ticket services for the product's own writers (monitoring's incidents):
a system note, levels that follow an alert, "did a human work this ticket".
Monitoring calls these instead of locking ticket rows or reading the audit
trail itself. The system's identity in the trail is described in tickets.events.
"""

from __future__ import annotations

from django.db import transaction

from tickets.models import Status, Ticket, TicketEvent, Via
from tickets.services.base import lock_ticket
from tickets.services.bulk import tickets_add_note
from tickets.services.priority import tickets_raise_levels
from tickets.services.tickets import system_user


def ticket_system_note(*, ticket: Ticket | int, body: str, via: str = Via.SYSTEM) -> int | None:
    """An internal note by the system user; none on a closed ticket (closed is
    final, for the system too). Returns the note's id, None when none was written."""
    with transaction.atomic(savepoint=False):  # inside the caller's transaction (the alert's) as a rule
        locked = lock_ticket(ticket)
        if locked.status == Status.CLOSED:
            return None
        (note_id,) = tickets_add_note(tickets=[locked], body=body, via=via)
    return note_id


def ticket_raise_levels(*, ticket: Ticket | int, urgency: str | None, impact: str | None, reason: str) -> Ticket:
    """Raise the ticket's urgency and/or impact (never lower them) as the system,
    unless it is closed; returns the locked, current ticket."""
    with transaction.atomic(savepoint=False):  # inside the caller's transaction (the alert's) as a rule
        locked = lock_ticket(ticket)
        if locked.status != Status.CLOSED:
            tickets_raise_levels(tickets=[locked], urgency=urgency, impact=impact, reason=reason)
    return locked


def ticket_worked_by_human(*, ticket: Ticket) -> bool:
    """Someone other than the system assigned, commented or changed the ticket."""
    if ticket.assignee_id is not None:
        return True
    system = system_user()
    return TicketEvent.objects.filter(ticket=ticket).exclude(actor__isnull=True).exclude(actor=system).exists()
