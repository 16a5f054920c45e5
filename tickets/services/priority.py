"""The impact x urgency matrix and re-prioritisation."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import NotAllowed, field_error
from helpdesk.models import User
from helpdesk.tasks import enqueue
from tickets import events
from tickets.models import ACTIVE_STATUSES, DEFAULT_MATRIX, Level, PriorityMatrixCell, Ticket
from tickets.services import sla

# --- priority ---------------------------------------------------------------


def priority_matrix() -> dict[tuple[str, str], int]:
    """The configured matrix, falling back to ITIL for any cell not stored."""
    cells = dict(DEFAULT_MATRIX)
    for impact, urgency, priority in PriorityMatrixCell.objects.values_list("impact", "urgency", "priority"):
        cells[(impact, urgency)] = priority
    return cells


def priority_for(*, impact: str, urgency: str) -> int:
    stored = (
        PriorityMatrixCell.objects.filter(impact=impact, urgency=urgency).values_list("priority", flat=True).first()
    )
    return stored if stored is not None else DEFAULT_MATRIX[(impact, urgency)]


def priority_matrix_update(*, actor: User, cells: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Replace the 9 cells; open tickets are re-prioritised in the background."""
    if not roles.is_manager(actor):
        raise NotAllowed("Only managers change the priority matrix.")
    matrix: dict[tuple[str, str], int] = {}
    for cell in cells:
        key = (cell["impact"], cell["urgency"])
        if key in matrix:
            raise field_error("cells", f"Cell impact={key[0]} urgency={key[1]} appears twice.")
        matrix[key] = cell["priority"]
    missing = sorted(set(DEFAULT_MATRIX) - set(matrix))
    if missing:
        raise field_error(
            "cells", "All 9 cells are required; missing " + ", ".join(f"{i}/{u}" for i, u in missing) + "."
        )
    with transaction.atomic():
        for (impact, urgency), priority in matrix.items():
            PriorityMatrixCell.objects.update_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})
        actor_id = actor.pk
        transaction.on_commit(lambda: enqueue("tickets.reprioritize_open_tickets", actor_id=actor_id))
    return matrix


def reprioritize_locked(
    tickets: list[Ticket],
    *,
    actor: User | None,
    reason: str,
    matrix: dict[tuple[str, str], int] | None = None,
    extra_fields: tuple[str, ...] = (),
) -> list[Ticket]:
    """Set-based core of every priority change: locked tickets whose impact or
    urgency (or the matrix) changed get their priority and due times recomputed
    in memory, then one bulk UPDATE and bulk event inserts. Returns the changed ones."""
    matrix = matrix or priority_matrix()
    ctx = sla.SlaContext.load()
    now = timezone.now()
    changed, moved, rows = [], [], []
    for ticket in tickets:
        new_priority = matrix[(ticket.impact, ticket.urgency)]
        if new_priority == ticket.priority and not extra_fields:
            continue
        old_priority, old_due = ticket.priority, (ticket.first_response_due_at, ticket.resolution_due_at)
        ticket.priority = new_priority
        if new_priority != old_priority:
            rows.append((ticket.pk, old_priority, new_priority))
            sla.refresh_due_times(ticket, ctx)
            moved.append((ticket, old_due))
        ticket.version += 1
        ticket.updated_at = now
        changed.append(ticket)
    fields = ["priority", "first_response_due_at", "resolution_due_at", "episode", "version", "updated_at"]
    Ticket.objects.bulk_update(changed, [*fields, *extra_fields], batch_size=500)
    events.priority_changed_bulk(rows, actor, reason=reason)
    for ticket, old_due in moved:
        sla.record_due_change(ticket, actor, old_due, reason=reason)
    return changed


def tickets_reprioritize(*, actor: User | None = None, batch_size: int = 1000) -> int:
    """Bring every active ticket's priority in line with the matrix.

    The mismatching tickets are found in SQL (the matrix as a CASE expression)
    and handled in locked batches, so the work is proportional to what changes.
    Returns the number changed.
    """
    matrix = priority_matrix()
    target = Case(
        *[When(impact=impact, urgency=urgency, then=Value(p)) for (impact, urgency), p in matrix.items()],
        output_field=IntegerField(),
    )
    changed = 0
    while True:
        with transaction.atomic():
            batch = list(
                Ticket.objects.filter(status__in=ACTIVE_STATUSES)
                .annotate(target=target)
                .exclude(priority=F("target"))
                .order_by("id")
                .select_for_update(of=("self",))[:batch_size]
            )
            if not batch:
                return changed
            changed += len(reprioritize_locked(batch, actor=actor, reason="priority matrix changed", matrix=matrix))


LEVEL_RANK = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}


def tickets_raise_levels(
    *,
    tickets: list[Ticket],
    impact: str | None = None,
    urgency: str | None = None,
    reason: str,
    actor: User | None = None,
) -> list[Ticket]:
    """Raise impact and/or urgency (never lower them); priority and due times
    follow. Used when an incident's alert gets worse or customers pile on."""
    raised, rows = [], []
    for ticket in tickets:
        before, after = {}, {}
        for field, level in (("impact", impact), ("urgency", urgency)):
            if level is not None and LEVEL_RANK[level] > LEVEL_RANK[getattr(ticket, field)]:
                before[field], after[field] = getattr(ticket, field), level
                setattr(ticket, field, level)
        if after:
            raised.append(ticket)
            rows.append((ticket.pk, before, after))
    reprioritize_locked(raised, actor=actor, reason=reason, extra_fields=("impact", "urgency"))
    events.levels_raised_bulk(rows, actor, reason=reason)
    return raised
