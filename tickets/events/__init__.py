"""The only writer of the audit trail.

Every change to a ticket, from any path (API, admin, page, rule engine, poller),
is recorded through one of these functions. An event carries the actor, the
time, a kind (``EventKind``; a check constraint refuses any other) and ``data``
with ``before``/``after`` values of what changed plus kind-specific details.

Each kind has one payload builder (``_<kind>_data``) used by its single and its
bulk constructor, so the API, the pages and the rule engine write the same
shape. No other module builds ``TicketEvent`` rows or payloads. Beside each
kind's constructors stands its timeline sentence (``@sentence``): people and
tickets by name (tickets linked), from ``Names`` loaded once per page. The
sentence registry, ``Names`` and ``timeline_text`` are in tickets.events.timeline
(read-side; only this module writes events).

Who acted: ``actor`` is the user who made the change, or NULL for the product
itself (the escalation engine, SLA sweeps, auto-close, monitoring resolving or
reopening its incidents). One exception, kept for the existing trail: notes and
incidents the product writes as *someone* are written by the system user
(``tickets.services.system_user()``, username ``HELPDESK_SYSTEM_USERNAME``, a
customer-role account without a usable password), because a comment and a
ticket need an author and a requester. ``is_system_actor`` recognises both forms;
"did a human work this ticket" (``ticket_worked_by_human``) excludes both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.html import format_html

from helpdesk.db import insert_rows
from helpdesk.models import User
from tickets.events.timeline import Names, sentence
from tickets.models import Attachment, EventKind, KnownIssue, Ticket, TicketEvent
from tickets.signals import events_recorded

__all__ = ["CUSTOMER_VISIBLE_KINDS", "EventKind"]  # EventKind lives beside TicketEvent (its check constraint)


# Kinds a customer may see on their own ticket; the rest can carry internal detail.
# Comment and attachment events carry `internal`; internal ones stay hidden (selectors).
CUSTOMER_VISIBLE_KINDS = frozenset(
    {EventKind.CREATED, EventKind.STATUS_CHANGED, EventKind.COMMENTED, EventKind.ATTACHMENT_ADDED}
)


def is_system_actor(actor: User | None) -> bool:
    """The product itself: no actor (sweeps, rules) or the system user (its notes
    and incidents). Recognised by username, which only admins and managers could
    give anyone else."""
    return actor is None or actor.username == settings.HELPDESK_SYSTEM_USERNAME


def _actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def record(ticket: Ticket | int, actor: User | None, kind: str, **data: Any) -> TicketEvent:
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    event = TicketEvent.objects.create(ticket_id=ticket_id, actor=_actor(actor), kind=kind, data=data)
    events_recorded.send(TicketEvent, kind=kind, rows=[(ticket_id, event.actor_id, data)])
    return event


def record_changes(
    ticket: Ticket, actor: User | None, kind: str, before: dict, after: dict, **extra: Any
) -> TicketEvent:
    return record(ticket, actor, kind, before=before, after=after, **extra)


def _before(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("before") or {}


def _after(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("after") or {}


def ticket_created(ticket: Ticket, actor: User | None, *, via: str = "") -> TicketEvent:
    """``via``: the channel that brought it when not the pages or the API ("email")."""
    extra = {"via": via} if via else {}
    return record(
        ticket,
        actor,
        EventKind.CREATED,
        **extra,
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


@sentence(EventKind.CREATED)
def _created_text(data: dict[str, Any], names: Names) -> str:
    return "Ticket created by e-mail" if data.get("via") == "email" else "Ticket created"


def _status_changed_data(before: str, after: str, *, resolution: str = "", reason: str = "") -> dict[str, Any]:
    """Only a resolution that was actually stored belongs in the trail; a system sweep says why."""
    data: dict[str, Any] = {"before": {"status": before}, "after": {"status": after}}
    if resolution:
        data["resolution"] = resolution
    if reason:
        data["reason"] = reason
    return data


def status_changed(ticket: Ticket, actor: User | None, before: str, resolution: str = "") -> TicketEvent:
    return record(
        ticket, actor, EventKind.STATUS_CHANGED, **_status_changed_data(before, ticket.status, resolution=resolution)
    )


@sentence(EventKind.STATUS_CHANGED)
def _status_changed_text(data: dict[str, Any], names: Names) -> str:
    return f"Status {_before(data).get('status', '?')} → {_after(data).get('status', '?')}"


def _assigned_data(before: int | None, after: int | None, reason: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"before": {"assignee": before}, "after": {"assignee": after}}
    if reason:
        data["reason"] = reason
    return data


def assigned_bulk(
    rows: Iterable[tuple[int, int | None]], actor: User | None, *, after: int | None, reason: str = ""
) -> None:
    """Assignment events: rows of (ticket_id, assignee before)."""
    record_bulk(EventKind.ASSIGNED, [(pk, _assigned_data(before, after, reason)) for pk, before in rows], actor)


@sentence(EventKind.ASSIGNED, users=(("before", "assignee"), ("after", "assignee")))
def _assigned_text(data: dict[str, Any], names: Names) -> str:
    return f"Assignee {names.person(_before(data).get('assignee'))} → {names.person(_after(data).get('assignee'))}"


def _tier_data(before_tier: int, before_assignee: int | None, to_tier: int, **handover: str) -> dict[str, Any]:
    return {
        "before": {"tier": before_tier, "assignee": before_assignee},
        "after": {"tier": to_tier, "assignee": None},
        **handover,
    }


def escalated_bulk(
    rows: Iterable[tuple[int, int, int | None]],
    actor: User | None,
    *,
    to_tier: int,
    reason: str,
    summary: str = "",
    steps_tried: str = "",
) -> None:
    """Escalations: rows of (ticket_id, tier before, assignee before); the handover travels with each."""
    record_bulk(
        EventKind.ESCALATED,
        [
            (pk, _tier_data(tier, assignee, to_tier, reason=reason, summary=summary, steps_tried=steps_tried))
            for pk, tier, assignee in rows
        ],
        actor,
    )


def deescalated_bulk(
    rows: Iterable[tuple[int, int, int | None]], actor: User | None, *, to_tier: int, reason: str
) -> None:
    """De-escalations: rows of (ticket_id, tier before, assignee before)."""
    record_bulk(
        EventKind.DEESCALATED,
        [(pk, _tier_data(tier, assignee, to_tier, reason=reason)) for pk, tier, assignee in rows],
        actor,
    )


def _tier_text(verb: str, data: dict[str, Any]) -> str:
    text = f"{verb} L{_before(data).get('tier', '?')} → L{_after(data).get('tier', '?')}"
    return f"{text}: {data['reason']}" if data.get("reason") else text


@sentence(EventKind.ESCALATED)
def _escalated_text(data: dict[str, Any], names: Names) -> str:
    return _tier_text("Escalated", data)


@sentence(EventKind.DEESCALATED)
def _deescalated_text(data: dict[str, Any], names: Names) -> str:
    return _tier_text("De-escalated", data)


def _priority_changed_data(before: int, after: int, reason: str) -> dict[str, Any]:
    return {"before": {"priority": before}, "after": {"priority": after}, "reason": reason}


def priority_changed(ticket: Ticket, actor: User | None, before: int, reason: str) -> TicketEvent:
    return record(ticket, actor, EventKind.PRIORITY_CHANGED, **_priority_changed_data(before, ticket.priority, reason))


def record_bulk(kind: str, rows: Iterable[tuple[int, dict[str, Any]]], actor: User | None = None) -> None:
    """Events of one kind for many tickets at once: rows of (ticket_id, data).
    Plain rows, no model instances: a tick records tens of thousands."""
    actor = _actor(actor)
    actor_id = actor.pk if actor is not None else None
    rows = list(rows)
    insert_rows(
        TicketEvent, ("ticket_id", "actor_id", "kind", "data"), [(pk, actor_id, kind, data) for pk, data in rows]
    )
    if rows:
        events_recorded.send(TicketEvent, kind=kind, rows=[(pk, actor_id, data) for pk, data in rows])


def priority_changed_bulk(rows: Iterable[tuple[int, int, int]], actor: User | None, reason: str) -> None:
    """Events for a set-based re-prioritisation: rows of (ticket_id, before, after)."""
    record_bulk(
        EventKind.PRIORITY_CHANGED,
        [(pk, _priority_changed_data(b, a, reason)) for pk, b, a in rows],
        actor,
    )


@sentence(EventKind.PRIORITY_CHANGED)
def _priority_changed_text(data: dict[str, Any], names: Names) -> str:
    return f"Priority P{_before(data).get('priority', '?')} → P{_after(data).get('priority', '?')}"


def _commented_data(comment_id: int, internal: bool) -> dict[str, Any]:
    return {"comment": comment_id, "internal": internal}


def commented(ticket: Ticket, actor: User | None, comment_id: int, internal: bool) -> TicketEvent:
    return record(ticket, actor, EventKind.COMMENTED, **_commented_data(comment_id, internal))


def commented_bulk(rows: Iterable[tuple[int, int]], actor: User | None, *, internal: bool) -> None:
    """Comment events: rows of (ticket_id, comment_id), all by ``actor``."""
    record_bulk(EventKind.COMMENTED, [(pk, _commented_data(comment, internal)) for pk, comment in rows], actor)


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


@sentence(EventKind.SLA_BREACHED)
def _sla_breached_text(data: dict[str, Any], names: Names) -> str:
    return f"SLA breached: {str(data.get('target', '')).replace('_', ' ')}"


def status_changed_bulk(
    ticket_ids: Iterable[int],
    *,
    before: str,
    after: str,
    reason: str = "",
    resolution: str = "",
    actor: User | None = None,
) -> None:
    """Status events of tickets that were all in ``before``: a transition, a sweep
    (auto-close, with its reason) or a rule (new -> open)."""
    data = _status_changed_data(before, after, resolution=resolution, reason=reason)
    record_bulk(EventKind.STATUS_CHANGED, [(pk, data) for pk in ticket_ids], actor)


def urgency_raised_bulk(rows: Iterable[tuple[int, str, str]], *, reason: str) -> None:
    """A rule raised the urgency: rows of (ticket_id, before, after); the system is the actor."""
    record_bulk(
        EventKind.URGENCY_RAISED,
        [(pk, {"before": {"urgency": b}, "after": {"urgency": a}, "reason": reason}) for pk, b, a in rows],
    )


@sentence(EventKind.URGENCY_RAISED)
def _urgency_raised_text(data: dict[str, Any], names: Names) -> str:
    return f"Urgency raised to {_after(data).get('urgency', '?')}"


def levels_raised_bulk(
    rows: Iterable[tuple[int, dict[str, str], dict[str, str]]], actor: User | None, *, reason: str
) -> None:
    """Impact and/or urgency raised (an UPDATED event): rows of (ticket_id, before, after)."""
    record_bulk(EventKind.UPDATED, [(pk, {"before": b, "after": a, "reason": reason}) for pk, b, a in rows], actor)


def updated(ticket: Ticket, actor: User | None, before: dict[str, Any], after: dict[str, Any]) -> TicketEvent:
    """Fields edited through ticket_update: ``before``/``after`` of each."""
    return record_changes(ticket, actor, EventKind.UPDATED, before, after)


@sentence(EventKind.UPDATED)
def _updated_text(data: dict[str, Any], names: Names) -> str:
    after = _after(data)
    return "Changed: " + ", ".join(sorted(after)) if after else "Updated"


def cc_changed(ticket: Ticket, actor: User | None, *, before: list[str], after: list[str]) -> TicketEvent:
    """The ticket's CC addresses changed (tickets.services.ccs): both whole lists."""
    return record_changes(ticket, actor, EventKind.CC_CHANGED, {"cc": before}, {"cc": after})


@sentence(EventKind.CC_CHANGED)
def _cc_changed_text(data: dict[str, Any], names: Names) -> str:
    before, after = _before(data).get("cc") or [], _after(data).get("cc") or []
    added = [a for a in after if a not in before]
    removed = [a for a in before if a not in after]
    parts = [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    return "CC " + "; ".join(parts) if parts else "CC unchanged"


def linked(ticket: Ticket, actor: User | None, before: int | None) -> TicketEvent:
    return record_changes(ticket, actor, EventKind.LINKED, {"parent": before}, {"parent": ticket.parent_id})


def unlinked(ticket: Ticket, actor: User | None, before: int) -> TicketEvent:
    return record_changes(ticket, actor, EventKind.UNLINKED, {"parent": before}, {"parent": None})


@sentence(EventKind.LINKED, tickets=(("after", "parent"),))
def _linked_text(data: dict[str, Any], names: Names) -> str:
    return format_html("Linked to the incident {}", names.ticket(_after(data).get("parent")))


@sentence(EventKind.UNLINKED, tickets=(("before", "parent"),))
def _unlinked_text(data: dict[str, Any], names: Names) -> str:
    return format_html("Unlinked from the incident {}", names.ticket(_before(data).get("parent")))


def child_link_changed(parent_id: int, actor: User | None, child_id: int, *, linked: bool) -> TicketEvent:
    """On the incident: a ticket was linked to it (or unlinked)."""
    return record(parent_id, actor, EventKind.CHILD_LINKED if linked else EventKind.CHILD_UNLINKED, child=child_id)


@sentence(EventKind.CHILD_LINKED, tickets=(("", "child"),))
def _child_linked_text(data: dict[str, Any], names: Names) -> str:
    return format_html("{} was linked", names.ticket(data.get("child")))


@sentence(EventKind.CHILD_UNLINKED, tickets=(("", "child"),))
def _child_unlinked_text(data: dict[str, Any], names: Names) -> str:
    return format_html("{} was unlinked", names.ticket(data.get("child")))


def sla_changed(
    ticket: Ticket, actor: User | None, before: dict[str, Any], after: dict[str, Any], reason: str
) -> TicketEvent:
    """Due times moved: ``before``/``after`` as ISO strings (or None)."""
    return record_changes(ticket, actor, EventKind.SLA_CHANGED, before, after, reason=reason)


@sentence(EventKind.SLA_CHANGED)
def _sla_changed_text(data: dict[str, Any], names: Names) -> str:
    return "SLA due times changed"


def rule_fired_bulk(
    ticket_ids: Iterable[int], *, rule_id: int, rule_name: str, trigger: str, episode_of: dict[int, int]
) -> None:
    """An escalation rule fired on each ticket, in the episode it fired in."""
    record_bulk(
        EventKind.RULE_FIRED,
        [
            (pk, {"rule": rule_id, "name": rule_name, "trigger": trigger, "episode": episode_of[pk]})
            for pk in ticket_ids
        ],
    )


@sentence(EventKind.RULE_FIRED)
def _rule_fired_text(data: dict[str, Any], names: Names) -> str:
    return f"Escalation rule “{data.get('name', '')}” fired"


def notification_failed_bulk(ticket_ids: Iterable[int], data: dict[str, Any]) -> None:
    """A notification failed for good; each ticket it was about gets the same details."""
    record_bulk(EventKind.NOTIFICATION_FAILED, [(pk, data) for pk in ticket_ids])


@sentence(EventKind.NOTIFICATION_FAILED)
def _notification_failed_text(data: dict[str, Any], names: Names) -> str:
    return f"Notification to {data.get('target', '?')} failed"
