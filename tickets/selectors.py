"""Reads of tickets, scoped to what the caller may see.

Customers see their own tickets and public comments only; everything else is
"not found" for them. Agents read every ticket (L1 answers any customer).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from helpdesk import roles
from helpdesk.errors import InvalidInput, NotFound
from helpdesk.models import User
from tickets.events import CUSTOMER_VISIBLE_KINDS
from tickets.filters import TicketFilter
from tickets.models import Comment, Ticket, TicketEvent


def ticket_queryset_for(*, user: User) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("category")
    if roles.is_agent(user):
        return qs
    if roles.is_customer(user) and user.is_active:
        return qs.filter(requester=user)
    return qs.none()


def ticket_get_for(*, user: User, ticket_id: Any) -> Ticket:
    try:
        return ticket_queryset_for(user=user).get(pk=int(ticket_id))
    except (Ticket.DoesNotExist, TypeError, ValueError, OverflowError):
        raise NotFound() from None


def ticket_list_for(*, user: User, filters: Any) -> QuerySet[Ticket]:
    """Visible tickets narrowed by the SPEC 6 list filters and ordering."""
    filterset = TicketFilter(data=filters, queryset=ticket_queryset_for(user=user), request_user=user)
    if not filterset.is_valid():
        raise InvalidInput({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def comment_list_for(*, user: User, ticket: Ticket) -> QuerySet[Comment]:
    qs = ticket.comments.all()
    return qs if roles.is_agent(user) else qs.filter(internal=False)


def event_list_for(*, user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    qs = ticket.events.all()
    if roles.is_agent(user):
        return qs
    # Customers see the public history: creation, status changes, public comments.
    # has_key first: a bare NOT (data->'internal' = true) is NULL, which excludes
    # every event without the key (creation, status changes).
    return qs.filter(kind__in=CUSTOMER_VISIBLE_KINDS).exclude(Q(data__has_key="internal") & Q(data__internal=True))


def handover_for(*, ticket: Ticket) -> TicketEvent | None:
    """The latest escalation, shown on top of the ticket."""
    return ticket.events.filter(kind="escalated").order_by("-id").first()
