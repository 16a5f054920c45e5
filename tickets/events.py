"""The only writer of the audit trail.

Every change to a ticket, from any path (API, admin, page, rule engine, poller),
is recorded through one of these functions. An event carries the actor (None
for the system), the time, a kind and ``data`` with ``before``/``after`` values
of what changed plus kind-specific details.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpdesk.db import insert_rows
from helpdesk.models import User
from tickets.models import Attachment, KnownIssue, Ticket, TicketEvent


class EventKind:
    CREATED = "created"
    UPDATED = "updated"
    PRIORITY_CHANGED = "priority_changed"
    STATUS_CHANGED = "status_changed"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    LINKED = "linked"
    UNLINKED = "unlinked"
    CHILD_LINKED = "child_linked"
    CHILD_UNLINKED = "child_unlinked"
    COMMENTED = "commented"
    SLA_CHANGED = "sla_changed"
    SLA_BREACHED = "sla_breached"
    RULE_FIRED = "rule_fired"
    URGENCY_RAISED = "urgency_raised"
    NOTIFICATION_FAILED = "notification_failed"
    KNOWN_ISSUE_APPLIED = "known_issue_applied"
    ATTACHMENT_ADDED = "attachment_added"


# Kinds a customer may see on their own ticket; the rest can carry internal detail.
# Comment and attachment events carry `internal`; internal ones stay hidden (selectors).
CUSTOMER_VISIBLE_KINDS = frozenset(
    {EventKind.CREATED, EventKind.STATUS_CHANGED, EventKind.COMMENTED, EventKind.ATTACHMENT_ADDED}
)


def _actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def record(ticket: Ticket | int, actor: User | None, kind: str, **data: Any) -> TicketEvent:
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    return TicketEvent.objects.create(ticket_id=ticket_id, actor=_actor(actor), kind=kind, data=data)


def record_changes(ticket: Ticket, actor: User | None, kind: str, before: dict, after: dict, **extra: Any) -> TicketEvent:
    return record(ticket, actor, kind, before=before, after=after, **extra)


def ticket_created(ticket: Ticket, actor: User | None) -> TicketEvent:
    return record(
        ticket,
        actor,
        EventKind.CREATED,
        after={
            "title": ticket.title,
            "kind": ticket.kind,
            "status": ticket.status,
            "tier": ticket.tier,
            "urgency": ticket.urgency,
            "impact": ticket.impact,
            "major": ticket.major,
            "priority": ticket.priority,
            "requester": ticket.requester_id,
            "application": ticket.application_id,
            "category": ticket.category_id,
            "parent": ticket.parent_id,
        },
    )


def status_changed(ticket: Ticket, actor: User | None, before: str, resolution: str = "") -> TicketEvent:
    extra = {"resolution": resolution} if resolution else {}
    return record_changes(ticket, actor, EventKind.STATUS_CHANGED, {"status": before}, {"status": ticket.status}, **extra)


def assigned(ticket: Ticket, actor: User | None, before: int | None) -> TicketEvent:
    return record_changes(ticket, actor, EventKind.ASSIGNED, {"assignee": before}, {"assignee": ticket.assignee_id})


def tier_changed(
    ticket: Ticket, actor: User | None, kind: str, before_tier: int, before_assignee: int | None, **handover: str
) -> TicketEvent:
    return record_changes(
        ticket,
        actor,
        kind,
        {"tier": before_tier, "assignee": before_assignee},
        {"tier": ticket.tier, "assignee": ticket.assignee_id},
        **handover,
    )


def priority_changed(ticket: Ticket, actor: User | None, before: int, reason: str) -> TicketEvent:
    return record_changes(
        ticket, actor, EventKind.PRIORITY_CHANGED, {"priority": before}, {"priority": ticket.priority}, reason=reason
    )


def record_bulk(kind: str, rows: Iterable[tuple[int, dict[str, Any]]], actor: User | None = None) -> None:
    """Events of one kind for many tickets at once: rows of (ticket_id, data).
    Plain rows, no model instances: a tick records tens of thousands."""
    actor = _actor(actor)
    actor_id = actor.pk if actor is not None else None
    insert_rows(
        TicketEvent, ("ticket_id", "actor_id", "kind", "data"), [(pk, actor_id, kind, data) for pk, data in rows]
    )


def priority_changed_bulk(rows: Iterable[tuple[int, int, int]], actor: User | None, reason: str) -> None:
    """Events for a set-based re-prioritisation: rows of (ticket_id, before, after)."""
    record_bulk(
        EventKind.PRIORITY_CHANGED,
        [(pk, {"before": {"priority": b}, "after": {"priority": a}, "reason": reason}) for pk, b, a in rows],
        actor,
    )


def commented(ticket: Ticket, actor: User | None, comment_id: int, internal: bool) -> TicketEvent:
    return record(ticket, actor, EventKind.COMMENTED, comment=comment_id, internal=internal)


def known_issue_applied(
    ticket: Ticket, actor: User | None, known_issue: KnownIssue, comment_id: int, resolve: bool
) -> TicketEvent:
    """The known issue was linked to the ticket and its steps posted as ``comment``."""
    return record(
        ticket,
        actor,
        EventKind.KNOWN_ISSUE_APPLIED,
        known_issue=known_issue.pk,
        title=known_issue.title,
        comment=comment_id,
        resolve=resolve,
    )


def attachment_added(ticket: Ticket, actor: User | None, attachment: Attachment, internal: bool) -> TicketEvent:
    return record(
        ticket,
        actor,
        EventKind.ATTACHMENT_ADDED,
        comment=attachment.comment_id,
        attachment=attachment.pk,
        name=attachment.name,
        size=attachment.size,
        internal=internal,
    )


def sla_breached_bulk(rows: Iterable[tuple[int, str, Any]]) -> None:
    """One event per breach: rows of (ticket_id, target, due_at); the system is the actor."""
    record_bulk(
        EventKind.SLA_BREACHED,
        [(pk, {"target": target, "due_at": due.isoformat() if due else None}) for pk, target, due in rows],
    )


def status_changed_bulk(ticket_ids: Iterable[int], *, before: str, after: str, reason: str) -> None:
    """Status events for a system sweep (auto-close)."""
    record_bulk(
        EventKind.STATUS_CHANGED,
        [(pk, {"before": {"status": before}, "after": {"status": after}, "reason": reason}) for pk in ticket_ids],
    )
