"""Reads shaped for the ticket pages: the ticket with what its page shows, the
timeline, the handover, the console's priority preview, requester search and
known-issue suggestions. Visibility comes from tickets.selectors.scoped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import NotFound
from helpdesk.models import User
from tickets import search, timeline_links
from tickets.events import EventKind
from tickets.events.timeline import Names, timeline_text
from tickets.models import PRIORITY_LABELS, TRANSITIONS, KnownIssue, Status, Ticket, Via
from tickets.selectors.scoped import comment_list_for, event_list_for, id_or_not_found, ticket_queryset_for
from tickets.services import priority_for, sla


def ticket_page_get(*, user: User, ticket_id: Any) -> Ticket:
    """A visible ticket with what its page shows in one query."""
    try:
        return (
            ticket_queryset_for(user=user)
            .select_related("requester", "assignee", "application", "parent", "follows")
            .get(pk=id_or_not_found(ticket_id))
        )
    except Ticket.DoesNotExist:
        raise NotFound() from None


def priority_preview(*, urgency: str, impact: str, now: datetime | None = None) -> dict[str, Any]:
    """What a new ticket with this urgency and impact would get: the matrix's
    priority and the SLA due times counted from now (business hours included)."""
    now = now or timezone.now()
    priority = priority_for(impact=impact, urgency=urgency)
    ctx = sla.SlaContext.load()
    response, resolution = sla.due_times(Ticket(priority=priority, created_at=now), ctx)
    return {
        "priority": priority,
        "label": PRIORITY_LABELS.get(priority, ""),
        "first_response_due_at": response,
        "resolution_due_at": resolution,
        "business_hours": ctx.calendar_for(priority) is not None,
    }


def customer_search(*, query: str, limit: int = 10) -> list[User]:
    """Active customers whose e-mail, username or name contains ``query`` (2+ characters)."""
    query = (query or "").strip()[:150]
    if len(query) < 2:
        return []
    match = Q(email__icontains=query) | Q(username__icontains=query) | Q(first_name__icontains=query)
    match |= Q(last_name__icontains=query)
    return list(
        User.objects.filter(match, role=roles.Role.CUSTOMER, is_active=True).exclude(email="").order_by("email")[:limit]
    )


def ticket_timeline_for(*, user: User, ticket: Ticket) -> list[dict[str, Any]]:
    """Comments and events of a ticket, oldest first, as the caller may see them
    (customers: public comments and the public history). Three queries, one
    each for the people and the tickets the events name, when they name any, and
    one per registered link provider (mail's original messages, for agents)."""
    comments = list(comment_list_for(user=user, ticket=ticket).select_related("author").prefetch_related("attachments"))
    # What the floors above add (mail: the original message), one query per provider (tickets.timeline_links).
    links = timeline_links.links_for(user=user, ticket=ticket, comments=comments)
    items: list[dict[str, Any]] = [
        {
            "at": c.created_at,
            "kind": "comment",
            "comment": c,
            "actor": c.author,
            "internal": c.internal,
            "via_email": c.via == Via.EMAIL,
            "links": links.get(c.pk, []),
        }
        for c in comments
    ]
    # A comment shows itself; its "commented" event would only repeat it.
    shown = list(event_list_for(user=user, ticket=ticket).exclude(kind=EventKind.COMMENTED).select_related("actor"))
    names = Names.load(shown)  # at most one query for people, one for tickets, whatever the history
    for event in shown:
        text = timeline_text(event, names)
        extra = links.get(timeline_links.TICKET, []) if event.kind == EventKind.CREATED else []
        items.append(
            {"at": event.at, "kind": "event", "event": event, "actor": event.actor, "text": text, "links": extra}
        )
    items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "event" else 1))
    return items


def handover_for(*, ticket: Ticket) -> dict[str, Any] | None:
    """The last escalation's handover (reason, summary, steps tried) while the ticket is above L1."""
    if ticket.tier <= 1:
        return None
    event = ticket.events.filter(kind=EventKind.ESCALATED).select_related("actor").order_by("-id").first()
    if event is None:
        return None
    return {
        "at": event.at,
        "actor": event.actor,
        **{k: event.data.get(k, "") for k in ("reason", "summary", "steps_tried")},
    }


def allowed_statuses(*, ticket: Ticket) -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in Status if s.value in TRANSITIONS.get(ticket.status, ())]


def known_issue_suggestions_for(
    *, user: User, text: str, application_id: int | None = None, limit: int = 5
) -> list[KnownIssue]:
    """Active known issues that what the agent typed suggests, those of the
    chosen application (or of none) first. Agents only; one query."""
    if not roles.is_agent(user):
        return []
    qs = KnownIssue.objects.filter(is_active=True)
    if application_id is not None:
        qs = qs.filter(Q(application_id=application_id) | Q(application__isnull=True))
    return list(search.known_issues_suggested(qs, text)[:limit])


def known_issues_applied_to(*, ticket: Ticket) -> list[KnownIssue]:
    return list(ticket.known_issues.order_by("title"))


def follow_links_for(*, user: User, ticket: Ticket) -> dict[str, Any]:
    """The links "Follows HD-..." and "Followed by HD-..." (a ticket opened when its customer
    wrote again after this one closed), as far as the user may see those tickets:
    one query (index ticket_follows); ``ticket.follows`` came with the page's ticket."""
    agent = roles.is_agent(user)
    follows = ticket.follows if ticket.follows and (agent or ticket.follows.requester_id == user.pk) else None
    followed_by = list(
        ticket_queryset_for(user=user).select_related(None).filter(follows_id=ticket.pk).only("id").order_by("id")[:20]
    )
    return {"follows": follows, "followed_by": followed_by}
