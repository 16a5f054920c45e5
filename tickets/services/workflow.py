"""Status lifecycle, assignment, tiers, the queue and comments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import Conflict, NotAllowed, field_error
from helpdesk.models import User
from helpdesk.text import clean_text
from tickets import events
from tickets.models import (
    ACTIVE_STATUSES,
    QUEUE_STATUSES,
    TRANSITIONS,
    Comment,
    Status,
    Ticket,
    TicketCc,
    Via,
)
from tickets.services import bulk, sla
from tickets.services.base import check_version, lock_ticket, require_active, require_worker, save_ticket

# --- status -------------------------------------------------------------------------


def _apply_status(ticket: Ticket, actor: User | None, status: str, resolution: str = "") -> None:
    """Move a locked ticket to ``status`` (already validated) and record it."""
    bulk.tickets_set_status_locked(tickets=[ticket], actor=actor, status=status, resolution=resolution)


def ticket_transition(
    *,
    ticket: Ticket | int,
    actor: User | None,
    status: str,
    resolution: str = "",
    expected_version: int | None = None,
) -> Ticket:
    """Move a ticket along the lifecycle (models.TRANSITIONS).

    Agents who may work the ticket's tier move it anywhere the table allows;
    a customer may only reopen or close their own resolved ticket; ``actor=None``
    is the system (monitoring resolving or reopening its incidents).
    """
    if status not in Status.values:
        raise field_error("status", f"Unknown status; one of {', '.join(Status.values)}.")
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        if actor is None:
            pass
        elif roles.is_customer(actor):
            if ticket.requester_id != actor.pk or ticket.status != Status.RESOLVED:
                raise NotAllowed("Customers may only reopen or close their resolved tickets.")
        else:
            require_worker(actor, ticket)
        check_version(ticket, expected_version)
        allowed = TRANSITIONS[ticket.status]
        if status not in allowed:
            raise Conflict(
                f"Cannot move a {ticket.status} ticket to {status}.", allowed=sorted(allowed), status=ticket.status
            )
        resolution = clean_text(resolution, "resolution", required=status == Status.RESOLVED)
        _apply_status(ticket, actor, status, resolution)
    return ticket


# --- assignment and tiers -------------------------------------------------------------


def _set_assignee(ticket: Ticket, actor: User, assignee: User | None) -> None:
    """Assign a locked ticket; taking a new ticket opens it (through the status change)."""
    bulk.tickets_assign_locked(tickets=[ticket], actor=actor, assignee=assignee)
    if bulk.assignment_opens(ticket, assignee):
        _apply_status(ticket, actor, Status.OPEN)


def ticket_claim(*, ticket: Ticket | int, actor: User) -> Ticket:
    """The actor takes the ticket. 409 when someone else holds it."""
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        require_active(ticket, "claim")
        if ticket.assignee_id == actor.pk:
            return ticket
        if ticket.assignee_id is not None:
            raise Conflict("Someone else holds this ticket.", assignee=ticket.assignee_id)
        _set_assignee(ticket, actor, actor)
    return ticket


def ticket_assign(*, ticket: Ticket | int, actor: User, assignee: User | None) -> Ticket:
    """Give the ticket to an agent who may work its tier, or unassign it.

    Managers reassign anything; other agents hand out tickets that are
    unassigned or their own.
    """
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        require_active(ticket, "assign")
        if not roles.is_manager(actor) and ticket.assignee_id not in (None, actor.pk):
            raise NotAllowed("Only managers reassign a ticket someone else holds.")
        if assignee is not None and not (assignee.is_active and roles.can_work_tier(assignee, ticket.tier)):
            raise field_error("assignee", f"That user cannot work tier {ticket.tier} tickets.")
        if ticket.assignee_id == (assignee.pk if assignee else None):
            return ticket
        _set_assignee(ticket, actor, assignee)
    return ticket


def _validate_tier(tier: Any, field: str = "to_tier") -> int:
    if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier <= roles.max_tier():
        raise field_error(field, f"Must be a tier between 1 and {roles.max_tier()}.")
    return tier


def ticket_escalate(
    *, ticket: Ticket | int, actor: User | None, to_tier: int, reason: str, summary: str = "", steps_tried: str = ""
) -> Ticket:
    """Move the ticket up to ``to_tier`` with a handover; the assignee is cleared.

    ``actor=None`` is the system (escalation rules), which may go anywhere.
    """
    to_tier = _validate_tier(to_tier)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        if actor is not None:
            require_worker(actor, ticket)
        require_active(ticket, "escalate")
        reason = clean_text(reason, "reason", required=True)
        if to_tier <= ticket.tier:
            raise field_error("to_tier", f"Escalation goes above the current tier ({ticket.tier}).")
        if actor is not None and to_tier > roles.max_escalation_tier(actor):
            raise NotAllowed(f"You may escalate up to tier {roles.max_escalation_tier(actor)}.")
        bulk.tickets_escalate_locked(
            tickets=[ticket],
            actor=actor,
            to_tier=to_tier,
            reason=reason,
            summary=(summary or "").strip(),
            steps_tried=(steps_tried or "").strip(),
        )
    return ticket


def ticket_deescalate(*, ticket: Ticket | int, actor: User, to_tier: int, reason: str) -> Ticket:
    """Send the ticket down to ``to_tier``; whoever may work its tier may do so."""
    to_tier = _validate_tier(to_tier)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        require_active(ticket, "de-escalate")
        reason = clean_text(reason, "reason", required=True)
        if to_tier >= ticket.tier:
            raise field_error("to_tier", f"De-escalation goes below the current tier ({ticket.tier}).")
        bulk.tickets_deescalate_locked(tickets=[ticket], actor=actor, to_tier=to_tier, reason=reason)
    return ticket


def next_ticket_claim(*, actor: User, tier: int | None = None) -> Ticket | None:
    """Claim the best unassigned ticket of a tier: best priority, then earliest
    resolution due time, then oldest. Rows locked by a concurrent caller are
    skipped, so two agents never get the same ticket. None when the queue is empty.
    """
    if not roles.is_agent(actor):
        raise NotAllowed("Only agents take tickets from a queue.")
    tier = roles.tier_of(actor) if tier is None else _validate_tier(tier, "tier")
    if not roles.can_work_tier(actor, tier):
        raise NotAllowed(f"Tier {tier} tickets need a tier {tier} agent or above.")
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("category")
            .filter(tier=tier, assignee__isnull=True, status__in=QUEUE_STATUSES)
            .order_by("priority", F("resolution_due_at").asc(nulls_last=True), "id")
            .first()
        )
        if ticket is None:
            return None
        _set_assignee(ticket, actor, actor)
    return ticket


# --- comments ----------------------------------------------------------------------------


def comment_create(
    *, ticket: Ticket | int, actor: User, body: str, internal: bool = False, via: str = Via.WEB
) -> Comment:
    """Add a comment. Any agent may comment on any ticket (L1 answers every
    customer); customers comment publicly on tickets they are the requester or
    a CC of, and a customer reply brings a pending or resolved ticket back to
    open. ``via`` says where it came in (``Via``)."""
    body = clean_text(body, "body", required=True)
    if via not in Via.values:
        raise field_error("via", f"Unknown channel; one of {', '.join(Via.values)}.")
    customer = roles.is_customer(actor)
    if customer and internal:
        raise field_error("internal", "Customers cannot write internal notes.")
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        if customer and ticket.requester_id != actor.pk and not is_cc(ticket, actor.email):
            raise NotAllowed("Customers comment on their own tickets only.")
        if not customer and not roles.is_agent(actor):
            raise NotAllowed("Only customers and agents comment.")
        if ticket.status == Status.CLOSED:
            raise Conflict("A closed ticket takes no more comments.")
        comment = Comment.objects.create(ticket=ticket, author=actor, body=body, internal=internal, via=via)
        fields = []
        if not customer and not internal and ticket.first_responded_at is None and actor.pk != ticket.requester_id:
            ticket.first_responded_at = comment.created_at
            fields += ["first_responded_at", *sla.mark_if_late(ticket, "first_response", comment.created_at)]
        save_ticket(ticket, *fields)
        events.commented(ticket, actor, comment.pk, internal)
        if customer and ticket.status in (Status.PENDING, Status.RESOLVED):
            _apply_status(ticket, actor, Status.OPEN)
    return comment


def is_cc(ticket: Ticket, email: str) -> bool:
    """Whether ``email`` is one of the ticket's CCs (addresses are stored lower-case)."""
    return bool(email) and TicketCc.objects.filter(ticket_id=ticket.pk, email=email.lower()).exists()


# --- sweeps ---------------------------------------------------------------------------------


def tickets_autoclose(*, now: datetime | None = None, days: int | None = None, batch_size: int = 1000) -> int:
    """Close tickets resolved more than HELPDESK_AUTOCLOSE_DAYS ago, set-based
    in locked batches, each with a status event by the system."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.HELPDESK_AUTOCLOSE_DAYS if days is None else days)
    closed = 0
    while True:
        with transaction.atomic():
            batch = list(
                Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("resolved_at")[:batch_size]
            )
            if not batch:
                return closed
            bulk.tickets_set_status_locked(
                tickets=batch, actor=None, status=Status.CLOSED, reason="auto-closed", now=now
            )
            closed += len(batch)


def incident_resolve_linked(*, incident: Ticket | int, actor: User, message: str) -> list[int]:
    """Resolve every active ticket linked to the incident with one public
    message (docs/PRODUCT.md "Incident links": resolving the incident offers to resolve its linked tickets)."""
    message = clean_text(message, "message", required=True)
    resolved = []
    # All or nothing, under the incident's and the children's row locks: a ticket
    # the actor may not work leaves no message behind, and a concurrent second
    # call finds nothing left.
    with transaction.atomic():
        incident = lock_ticket(incident)
        require_worker(actor, incident)
        incident_id = incident.pk
        children = list(
            Ticket.objects.select_for_update()
            .filter(parent_id=incident_id, status__in=ACTIVE_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for child_id in children:
            comment_create(ticket=child_id, actor=actor, body=message, internal=False)
            ticket_transition(ticket=child_id, actor=actor, status=Status.RESOLVED, resolution=message)
            resolved.append(child_id)
    return resolved
