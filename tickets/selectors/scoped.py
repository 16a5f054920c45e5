"""Reads of tickets, comments, attachments, events and known issues, scoped to
what the caller may see; the API and the pages read through these.

Customers see their own tickets and public comments only; everything else is
"not found" for them. Agents read every ticket (L1 answers any customer).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from helpdesk import roles
from helpdesk.errors import InvalidInput, NotFound
from helpdesk.models import User
from helpdesk.text import parse_id
from tickets.events import CUSTOMER_VISIBLE_KINDS
from tickets.filters import KnownIssueFilter, TicketFilter
from tickets.models import Attachment, Comment, KnownIssue, Ticket, TicketEvent


def ticket_queryset_for(*, user: User) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("category")
    if roles.is_agent(user):
        return qs
    if roles.is_customer(user) and user.is_active:
        return qs.filter(requester=user)
    return qs.none()


def id_or_not_found(raw: Any) -> int:
    """An id from the path or the caller, or "not found": junk ids ("²", 2**64) are
    as missing as any other (helpdesk.text.parse_id)."""
    value = parse_id(raw)
    if value is None:
        raise NotFound()
    return value


def ticket_get_for(*, user: User, ticket_id: Any) -> Ticket:
    try:
        return ticket_queryset_for(user=user).get(pk=id_or_not_found(ticket_id))
    except Ticket.DoesNotExist:
        raise NotFound() from None


def ticket_list_for(*, user: User, filters: Any) -> QuerySet[Ticket]:
    """Visible tickets narrowed by the list filters of docs/API.md "Lists and filters" and ordering."""
    filterset = TicketFilter(data=filters, queryset=ticket_queryset_for(user=user), request_user=user)
    if not filterset.is_valid():
        raise InvalidInput({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def _comments_visible(*, user: User, ticket: Ticket) -> QuerySet[Comment]:
    qs = ticket.comments.all()
    return qs if roles.is_agent(user) else qs.filter(internal=False)


def comment_list_for(*, user: User, ticket: Ticket) -> QuerySet[Comment]:
    """The comments the user sees, with their attachments (one query for a whole page)."""
    return _comments_visible(user=user, ticket=ticket).prefetch_related("attachments")


def comment_get_for(*, user: User, ticket: Ticket, comment_id: Any) -> Comment:
    """A comment of this (visible) ticket; internal ones are "not found" for customers."""
    try:
        comment = _comments_visible(user=user, ticket=ticket).get(pk=id_or_not_found(comment_id))
    except Comment.DoesNotExist:
        raise NotFound() from None
    comment.ticket = ticket
    return comment


def attachment_get_for(*, user: User, attachment_id: Any) -> Attachment:
    """An attachment the user may download: the same visibility as its comment.
    Anything else, missing or not, is "not found"."""
    qs = Attachment.objects.all()
    if roles.is_agent(user):
        pass
    elif roles.is_customer(user) and user.is_active:
        qs = qs.filter(comment__internal=False, comment__ticket__requester=user)
    else:
        raise NotFound()
    try:
        return qs.get(pk=id_or_not_found(attachment_id))
    except Attachment.DoesNotExist:
        raise NotFound() from None


def event_list_for(*, user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    qs = ticket.events.all()
    if roles.is_agent(user):
        return qs
    # Customers see the public history: creation, status changes, public comments.
    # has_key first: a bare NOT (data->'internal' = true) is NULL, which excludes
    # every event without the key (creation, status changes).
    return qs.filter(kind__in=CUSTOMER_VISIBLE_KINDS).exclude(Q(data__has_key="internal") & Q(data__internal=True))


def known_issue_list_for(*, user: User, filters: Any) -> QuerySet[KnownIssue]:
    """Known issues narrowed by the list filters (`q` searches, best match first).
    Agents read the knowledge base; nobody else sees it."""
    if not roles.is_agent(user):
        return KnownIssue.objects.none()
    filterset = KnownIssueFilter(data=filters, queryset=KnownIssue.objects.all())
    if not filterset.is_valid():
        raise InvalidInput({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def open_incidents_for(*, application_id: int) -> QuerySet[Ticket]:
    """An application's open incidents: those a ticket may be linked to (an alert
    opened them or an agent flagged them major; TicketQuerySet.linkable_incidents,
    the rule the link services check too). The console's banner, the API's
    suggestions and application health show these; a customer's own "incident" never."""
    return Ticket.objects.linkable_incidents().filter(application_id=application_id).order_by("priority", "-id")


def open_incident_counts(*, application_ids: list[int]) -> dict[int, int]:
    """How many open incidents (as open_incidents_for) each application has (absent: none), in one query."""
    rows = (
        Ticket.objects.linkable_incidents()
        .filter(application_id__in=application_ids)
        .order_by()
        .values("application_id")
        .annotate(n=Count("pk"))
    )
    return {row["application_id"]: row["n"] for row in rows}
