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
from tickets.models import (
    ACTIVE_STATUSES,
    DEFAULT_MATRIX,
    PriorityMatrixCell,
    Ticket,
)

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
        raise field_error("cells", "All 9 cells are required; missing " + ", ".join(f"{i}/{u}" for i, u in missing) + ".")
    with transaction.atomic():
        for (impact, urgency), priority in matrix.items():
            PriorityMatrixCell.objects.update_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})
        actor_id = actor.pk
        transaction.on_commit(lambda: enqueue("tickets.reprioritize_open_tickets", actor_id=actor_id))
    return matrix


def tickets_reprioritize(*, actor: User | None = None, batch_size: int = 1000) -> int:
    """Bring every active ticket's priority in line with the matrix, set-based.

    Works in locked batches of ids, at most five UPDATEs per batch (one per
    target priority) plus one bulk insert of events. Returns the number changed.
    """
    matrix = priority_matrix()
    target = Case(
        *[When(impact=impact, urgency=urgency, then=Value(p)) for (impact, urgency), p in matrix.items()],
        output_field=IntegerField(),
    )
    changed = 0
    while True:
        with transaction.atomic():
            rows = list(
                Ticket.objects.filter(status__in=ACTIVE_STATUSES)
                .annotate(target=target)
                .exclude(priority=F("target"))
                .order_by("id")
                .select_for_update(of=("self",))
                .values_list("id", "priority", "target")[:batch_size]
            )
            if not rows:
                return changed
            now = timezone.now()
            for priority in {row[2] for row in rows}:
                ids = [row[0] for row in rows if row[2] == priority]
                Ticket.objects.filter(id__in=ids).update(priority=priority, version=F("version") + 1, updated_at=now)
            events.priority_changed_bulk(rows, actor, reason="priority matrix changed")
            changed += len(rows)
