"""Small helpers shared by the service tests (test_services_*.py)."""

from __future__ import annotations

from tickets import services
from tickets.models import Status, Ticket, TicketEvent

# The service calls that bring a ticket from `new` to each status.
PATH_TO = {
    Status.NEW: [],
    Status.OPEN: [Status.OPEN],
    Status.PENDING: [Status.PENDING],
    Status.RESOLVED: [Status.RESOLVED],
    Status.CLOSED: [Status.RESOLVED, Status.CLOSED],
}


def create(actor, requester=None, **kwargs) -> Ticket:
    """A ticket opened through the service, so its audit trail is real."""
    kwargs.setdefault("title", "Printer jammed")
    if requester is not None:
        kwargs["requester"] = requester
    return services.ticket_create(actor=actor, **kwargs)


def drive_to(ticket: Ticket, status: str, agent) -> Ticket:
    """Move a `new` ticket to `status` through ticket_transition."""
    for step in PATH_TO[status]:
        resolution = "Replaced the toner." if step == Status.RESOLVED else ""
        ticket = services.ticket_transition(ticket=ticket, actor=agent, status=step, resolution=resolution)
    return ticket


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def events_of(ticket: Ticket, kind: str | None = None) -> list[TicketEvent]:
    qs = TicketEvent.objects.filter(ticket_id=ticket.pk).order_by("id")
    if kind is not None:
        qs = qs.filter(kind=kind)
    return list(qs)


def last_event(ticket: Ticket) -> TicketEvent:
    return TicketEvent.objects.filter(ticket_id=ticket.pk).order_by("-id").first()
