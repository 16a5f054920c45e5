"""The set-based core of each ticket change: escalate, de-escalate, assign,
add a note.

Each function takes tickets the caller has authorised and locked
(``select_for_update``) in its transaction, changes them in memory, writes them
with one set-based UPDATE and records the events in bulk. The per-ticket
services (workflow.py) call them with one ticket after their checks
(permission, version, transition rules); the escalation engine calls them with
a batch of thousands, so a tick stays a few queries per batch. The rule of each
change (who may move, what the clock does) lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from helpdesk import roles
from helpdesk.db import ids_filter, insert_rows
from helpdesk.models import User
from tickets import events
from tickets.models import Comment, Level, Status, Ticket, Via
from tickets.services import sla
from tickets.services.priority import reprioritize_locked
from tickets.services.tickets import system_user

URGENCY_UP = {Level.LOW: Level.MEDIUM, Level.MEDIUM: Level.HIGH, Level.HIGH: Level.HIGH}


def _write(tickets: list[Ticket], increments: tuple[str, ...] = (), at: datetime | None = None, **values) -> None:
    """One UPDATE for tickets that all get the same ``values`` (``increments`` and
    the version go up by one), instead of bulk_update's per-row CASE per field.
    The caller holds the row locks, so the database and the objects agree."""
    if not tickets:
        return
    now = at or timezone.now()
    for ticket in tickets:
        ticket.version += 1
        ticket.updated_at = now
    Ticket.objects.filter(ids_filter(t.pk for t in tickets)).update(
        **values, **{name: F(name) + 1 for name in increments}, version=F("version") + 1, updated_at=now
    )


# --- status ----------------------------------------------------------------------------


def _status_values(ticket: Ticket, status: str, resolution: str, now: datetime) -> dict[str, Any]:
    """Move one ticket to ``status`` in memory; returns the fields to write. The
    SLA rules of a status change: a late resolution is a breach, the resolution
    clock pauses and resumes, a reopened ticket loses its old resolution."""
    before = ticket.status
    ticket.status = status
    fields = ["status"]
    if status == Status.RESOLVED:
        ticket.resolution, ticket.resolved_at = resolution, now
        fields += ["resolution", "resolved_at"]
        if before not in sla.PAUSED_STATUSES:
            fields += sla.mark_if_late(ticket, "resolution", now)
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    elif before == Status.RESOLVED:  # reopened: the old resolution no longer holds
        ticket.resolved_at, ticket.resolution = None, ""
        fields += ["resolved_at", "resolution"]
    fields += sla.clock_on_status_change(ticket, before, now)
    return {name: getattr(ticket, name) for name in fields}


def tickets_set_status_locked(
    *,
    tickets: Iterable[Ticket],
    actor: User | None,
    status: str,
    resolution: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> None:
    """Move the tickets (transition already allowed by the caller) to ``status``
    and record it. Tickets whose changes are equal share one UPDATE (a sweep:
    one per batch; ``ticket_transition``: one)."""
    now = now or timezone.now()
    groups: dict[tuple, list[Ticket]] = {}
    befores: dict[str, list[int]] = {}
    moved = []
    for ticket in tickets:
        before, old_due = ticket.status, (ticket.first_response_due_at, ticket.resolution_due_at)
        values = _status_values(ticket, status, resolution, now)
        groups.setdefault(tuple(sorted(values.items())), []).append(ticket)
        befores.setdefault(before, []).append(ticket.pk)
        moved.append((ticket, old_due))
    for values, group in groups.items():
        _write(group, at=now, **dict(values))
    for ticket, old_due in moved:
        sla.record_due_change(ticket, actor, old_due, reason="resolution clock resumed")
    # Only a resolution that was actually stored belongs in the audit trail.
    stored = resolution if status == Status.RESOLVED else ""
    for before, ids in befores.items():
        events.status_changed_bulk(ids, before=before, after=status, resolution=stored, reason=reason, actor=actor)


# --- tiers ---------------------------------------------------------------------------


def may_escalate(ticket: Ticket, to_tier: int) -> bool:
    """The one escalation rule: an active ticket moves up only."""
    return not ticket.is_done and ticket.tier < to_tier


def may_deescalate(ticket: Ticket, to_tier: int) -> bool:
    return not ticket.is_done and ticket.tier > to_tier


def _move_to_tier(tickets: list[Ticket], to_tier: int) -> list[tuple[int, int, int | None]]:
    """Locked tickets enter another tier's queue: unassigned, a new episode (the
    escalation rules may fire again). Returns (id, tier before, assignee before)."""
    now = timezone.now()
    trail = []
    for ticket in tickets:
        trail.append((ticket.pk, ticket.tier, ticket.assignee_id))
        ticket.tier, ticket.assignee, ticket.queued_at = to_tier, None, now
        ticket.episode += 1
    _write(tickets, increments=("episode",), tier=to_tier, assignee=None, queued_at=now)
    return trail


def tickets_escalate_locked(
    *,
    tickets: Iterable[Ticket],
    actor: User | None,
    to_tier: int,
    reason: str,
    summary: str = "",
    steps_tried: str = "",
) -> list[Ticket]:
    """Escalate the tickets below ``to_tier``, capped at the last tier in use
    (a rule written for three tiers still works with two); returns the ones that moved."""
    to_tier = min(to_tier, roles.max_tier())
    moving = [t for t in tickets if may_escalate(t, to_tier)]
    trail = _move_to_tier(moving, to_tier)
    events.escalated_bulk(trail, actor, to_tier=to_tier, reason=reason, summary=summary, steps_tried=steps_tried)
    return moving


def tickets_deescalate_locked(
    *, tickets: Iterable[Ticket], actor: User | None, to_tier: int, reason: str
) -> list[Ticket]:
    """Send the tickets above ``to_tier`` down to it; returns the ones that moved."""
    moving = [t for t in tickets if may_deescalate(t, to_tier)]
    trail = _move_to_tier(moving, to_tier)
    events.deescalated_bulk(trail, actor, to_tier=to_tier, reason=reason)
    return moving


# --- urgency -------------------------------------------------------------------------


def tickets_raise_urgency(*, tickets: list[Ticket], reason: str) -> list[Ticket]:
    """One urgency level up (high stays high); priority and due times follow."""
    raising = [t for t in tickets if t.urgency != Level.HIGH]
    trail = []
    for ticket in raising:
        trail.append((ticket.pk, ticket.urgency, URGENCY_UP[ticket.urgency]))
        ticket.urgency = URGENCY_UP[ticket.urgency]
    reprioritize_locked(raising, actor=None, reason=reason, extra_fields=("urgency",))
    events.urgency_raised_bulk(trail, reason=reason)
    return raising


# --- assignment ------------------------------------------------------------------------


def assignment_opens(ticket: Ticket, assignee: User | None) -> bool:
    """Taking a new ticket opens it."""
    return assignee is not None and ticket.status == Status.NEW


def tickets_assign_locked(
    *,
    tickets: Iterable[Ticket],
    actor: User | None,
    assignee: User | None,
    reason: str = "",
    open_new: bool = False,
) -> list[Ticket]:
    """Give the tickets to ``assignee`` (None: back to the queue) and record it;
    returns the tickets whose assignee changed.

    A new ticket that is taken opens (``assignment_opens``). With ``open_new``
    that happens here, in the same UPDATE (the engine: one version bump per
    ticket); without it the caller moves it through the status change (the
    per-ticket path, which records the clock)."""
    after = assignee.pk if assignee is not None else None
    taking = [t for t in tickets if t.assignee_id != after]
    opened = [t for t in taking if assignment_opens(t, assignee)] if open_new else []
    queued_at = None if assignee is not None else timezone.now()
    trail = []
    for ticket in taking:
        trail.append((ticket.pk, ticket.assignee_id))
        ticket.assignee, ticket.queued_at = assignee, queued_at
    for ticket in opened:
        ticket.status = Status.OPEN
    opened_ids = {t.pk for t in opened}
    _write(opened, assignee=assignee, queued_at=queued_at, status=Status.OPEN)
    _write([t for t in taking if t.pk not in opened_ids], assignee=assignee, queued_at=queued_at)
    events.assigned_bulk(trail, actor, after=after, reason=reason)
    events.status_changed_bulk([t.pk for t in opened], before=Status.NEW, after=Status.OPEN, reason=reason, actor=actor)
    return taking


def tickets_assign_by_rule(*, tickets: list[Ticket], assignee: User, reason: str) -> list[Ticket]:
    """Give the tickets the assignee may work to them; a new ticket opens."""
    if not (assignee.is_active and roles.is_agent(assignee)):
        return []
    workable = [t for t in tickets if roles.can_work_tier(assignee, t.tier)]
    return tickets_assign_locked(tickets=workable, actor=None, assignee=assignee, reason=reason, open_new=True)


# --- notes -------------------------------------------------------------------------------


def tickets_add_note(
    *, tickets: list[Ticket], body: str, already_written: set[int] = frozenset(), via: str = Via.SYSTEM
) -> list[int]:
    """An internal note by the system user on each ticket; returns the notes' ids in
    the tickets' order. The note bumps the version of the tickets, except those in
    ``already_written`` (another action of the same transaction wrote their row:
    one UPDATE per ticket is enough). ``via``: what brought it (e-mail from an
    unknown sender), the system itself by default."""
    author = system_user()
    ticket_ids = [t.pk for t in tickets]
    rows = [(pk, author.pk, body, True, via) for pk in ticket_ids]
    comment_ids = insert_rows(Comment, ("ticket_id", "author_id", "body", "internal", "via"), rows, returning=True)
    _write([t for t in tickets if t.pk not in already_written])
    events.commented_bulk(zip(ticket_ids, comment_ids, strict=True), author, internal=True)
    return comment_ids
