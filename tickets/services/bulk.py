"""Set-based ticket changes for the system (the escalation engine).

Each function takes tickets the caller has locked (``select_for_update``) in
its transaction, changes them in memory, writes them with one set-based UPDATE
and records the events in bulk, so a tick over thousands of tickets stays a few
queries per batch. The actor is the system (None).
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from helpdesk import roles
from helpdesk.db import ids_filter, insert_rows
from helpdesk.models import User
from tickets import events
from tickets.events import EventKind
from tickets.models import Comment, Level, Status, Ticket
from tickets.services.priority import reprioritize_locked
from tickets.services.tickets import system_user

URGENCY_UP = {Level.LOW: Level.MEDIUM, Level.MEDIUM: Level.HIGH, Level.HIGH: Level.HIGH}


def _write(tickets: list[Ticket], increments: tuple[str, ...] = (), **values) -> None:
    """One UPDATE for tickets that all get the same ``values`` (``increments`` and
    the version go up by one), instead of bulk_update's per-row CASE per field.
    The caller holds the row locks, so the database and the objects agree."""
    if not tickets:
        return
    now = timezone.now()
    for ticket in tickets:
        ticket.version += 1
        ticket.updated_at = now
    Ticket.objects.filter(ids_filter(t.pk for t in tickets)).update(
        **values, **{name: F(name) + 1 for name in increments}, version=F("version") + 1, updated_at=now
    )


def tickets_escalate_by_rule(*, tickets: list[Ticket], to_tier: int, reason: str) -> list[Ticket]:
    """Escalate the tickets below ``to_tier``, capped at the last tier in use
    (a rule written for three tiers still works with two); returns the ones that moved."""
    to_tier = min(to_tier, roles.max_tier())
    moving = [t for t in tickets if t.tier < to_tier and not t.is_done]
    now = timezone.now()
    trail = []
    for ticket in moving:
        trail.append((ticket.pk, ticket.tier, ticket.assignee_id))
        ticket.tier, ticket.assignee_id, ticket.queued_at = to_tier, None, now
        ticket.episode += 1
    _write(moving, increments=("episode",), tier=to_tier, assignee=None, queued_at=now)
    events.record_bulk(
        EventKind.ESCALATED,
        [
            (
                pk,
                {
                    "before": {"tier": tier, "assignee": assignee},
                    "after": {"tier": to_tier, "assignee": None},
                    "reason": reason,
                    "summary": "",
                    "steps_tried": "",
                },
            )
            for pk, tier, assignee in trail
        ],
    )
    return moving


def tickets_raise_urgency(*, tickets: list[Ticket], reason: str) -> list[Ticket]:
    """One urgency level up (high stays high); priority and due times follow."""
    raising = [t for t in tickets if t.urgency != Level.HIGH]
    trail = []
    for ticket in raising:
        trail.append((ticket.pk, ticket.urgency))
        ticket.urgency = URGENCY_UP[ticket.urgency]
    reprioritize_locked(raising, actor=None, reason=reason, extra_fields=("urgency",))
    events.record_bulk(
        EventKind.URGENCY_RAISED,
        [(pk, {"before": {"urgency": b}, "after": {"urgency": URGENCY_UP[b]}, "reason": reason}) for pk, b in trail],
    )
    return raising


def tickets_assign_by_rule(*, tickets: list[Ticket], assignee: User, reason: str) -> list[Ticket]:
    """Give the tickets the assignee may work to them; a new ticket opens."""
    if not (assignee.is_active and roles.is_agent(assignee)):
        return []
    taking = [t for t in tickets if roles.can_work_tier(assignee, t.tier) and t.assignee_id != assignee.pk]
    trail = []
    for ticket in taking:
        trail.append((ticket.pk, ticket.assignee_id, ticket.status))
        ticket.assignee_id, ticket.queued_at = assignee.pk, None
        if ticket.status == Status.NEW:
            ticket.status = Status.OPEN
    opened = {pk for pk, _, status in trail if status == Status.NEW}
    _write([t for t in taking if t.pk in opened], assignee=assignee, queued_at=None, status=Status.OPEN)
    _write([t for t in taking if t.pk not in opened], assignee=assignee, queued_at=None)
    events.record_bulk(
        EventKind.ASSIGNED,
        [(pk, {"before": {"assignee": b}, "after": {"assignee": assignee.pk}, "reason": reason}) for pk, b, _ in trail],
    )
    events.status_changed_bulk(
        [pk for pk, _, status in trail if status == Status.NEW], before=Status.NEW, after=Status.OPEN, reason=reason
    )
    return taking


def tickets_add_note(*, tickets: list[Ticket], body: str, already_written: set[int] = frozenset()) -> None:
    """An internal note by the system user on each ticket. The note bumps the
    version of the tickets, except those in ``already_written`` (another action
    of the same transaction wrote their row: one UPDATE per ticket is enough)."""
    author = system_user()
    ticket_ids = [t.pk for t in tickets]
    rows = [(pk, author.pk, body, True) for pk in ticket_ids]
    comment_ids = insert_rows(Comment, ("ticket_id", "author_id", "body", "internal"), rows, returning=True)
    _write([t for t in tickets if t.pk not in already_written])
    events.record_bulk(
        EventKind.COMMENTED,
        [(pk, {"comment": comment, "internal": True}) for pk, comment in zip(ticket_ids, comment_ids, strict=True)],
        author,
    )


def rule_fired_bulk(
    *, ticket_ids: list[int], rule_id: int, rule_name: str, trigger: str, episode_of: dict[int, int]
) -> None:
    events.record_bulk(
        EventKind.RULE_FIRED,
        [
            (pk, {"rule": rule_id, "name": rule_name, "trigger": trigger, "episode": episode_of[pk]})
            for pk in ticket_ids
        ],
    )
