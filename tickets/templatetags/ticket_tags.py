"""Template filters about tickets (the core's helpdesk_tags names no app)."""

from __future__ import annotations

from django import template

from tickets.models import Ticket

register = template.Library()


@register.filter
def ticket_number(ticket_id: int | None) -> str:
    """A ticket id as the number agents read out (HD-000042), without loading the ticket."""
    return Ticket(pk=ticket_id).number if ticket_id else ""
