"""Ticket use cases: the one code path for every change to a ticket.

Each service authorises the actor, validates, writes under a row lock, records
the audit event and schedules side effects after commit. The API, the pages,
the admin, the rule engine and the poller all call these functions.

Locking rule: a service that changes a ticket re-reads it with
``select_for_update`` inside its own transaction, so callers may pass a stale
instance; the returned instance is the fresh one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import Conflict, InvalidInput, NotAllowed, StaleVersion, field_error
from helpdesk.models import User
from helpdesk.tasks import enqueue
from monitoring.models import Application
from tickets import events
from tickets.events import EventKind
from tickets.models import (
    ACTIVE_STATUSES,
    DEFAULT_MATRIX,
    QUEUE_STATUSES,
    TRANSITIONS,
    Category,
    Comment,
    Kind,
    Level,
    PriorityMatrixCell,
    Status,
    Ticket,
)

EDITABLE_FIELDS = ("title", "description", "urgency", "impact", "category", "application", "kind", "parent")
ACTION_ONLY_FIELDS = ("status", "tier", "assignee")


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


# --- helpers -----------------------------------------------------------------


def _lock(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update(of=("self",)).select_related("category").get(pk=pk)


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise StaleVersion(f"Ticket changed since version {expected_version}; current version is {ticket.version}.")


def _save(ticket: Ticket, *fields: str) -> None:
    ticket.version += 1
    ticket.save(update_fields=[*fields, "version", "updated_at"])


def _require_worker(actor: User, ticket: Ticket) -> None:
    """Agents of tier N work tickets of tier <= N."""
    if not roles.can_work_tier(actor, ticket.tier):
        raise NotAllowed(f"Tier {ticket.tier} tickets need a tier {ticket.tier} agent or above.")


def _require_active(ticket: Ticket, action: str) -> None:
    if ticket.is_done:
        raise Conflict(f"Cannot {action} a {ticket.status} ticket.")


def _clean_text(value: str | None, field: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise field_error(field, "This field may not be blank.")
    return text


# --- requesters ----------------------------------------------------------------


def customer_find_or_create(*, email: str) -> User:
    """The user with this e-mail, or a new customer (no usable password) for it."""
    email = _clean_text(email, "requester_email", required=True).lower()
    existing = User.objects.filter(email__iexact=email).order_by("id").first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            user = User(username=email[:150], email=email, role=roles.Role.CUSTOMER)
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        # A concurrent request created it first.
        return User.objects.get(username=email[:150])


def system_user() -> User:
    """The requester of tickets the product opens itself (monitoring incidents)."""
    user, created = User.objects.get_or_create(
        username=settings.HELPDESK_SYSTEM_USERNAME,
        defaults={"role": roles.Role.CUSTOMER, "first_name": "System", "is_active": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


# --- create and update -----------------------------------------------------------


def _validate_parent(ticket: Ticket | None, parent: Ticket) -> None:
    if ticket is not None and parent.pk == ticket.pk:
        raise field_error("parent", "A ticket cannot be its own parent.")
    if parent.kind != Kind.INCIDENT:
        raise field_error("parent", "Tickets can only be linked to an incident.")
    if parent.parent_id is not None:
        raise field_error("parent", "That incident is itself linked to another incident.")
    if parent.status == Status.CLOSED:
        raise field_error("parent", "That incident is closed.")
    if ticket is not None and ticket.linked_count:
        raise field_error("parent", "A ticket with linked tickets cannot be linked to another.")


def _adjust_linked_count(parent_id: int, delta: int, child: Ticket, actor: User | None) -> None:
    Ticket.objects.filter(pk=parent_id).update(
        linked_count=F("linked_count") + delta, version=F("version") + 1, updated_at=timezone.now()
    )
    kind = EventKind.CHILD_LINKED if delta > 0 else EventKind.CHILD_UNLINKED
    events.record(parent_id, actor, kind, child=child.pk)


def ticket_create(
    *,
    actor: User,
    title: str,
    description: str = "",
    requester: User | None = None,
    requester_email: str | None = None,
    application: Application | None = None,
    category: Category | None = None,
    kind: str = Kind.SERVICE_REQUEST,
    urgency: str = Level.MEDIUM,
    impact: str = Level.MEDIUM,
    parent: Ticket | None = None,
    tier: int = 1,
) -> Ticket:
    """Open a ticket. Customers open tickets for themselves; agents name the
    requester by id or e-mail (a new e-mail becomes a customer)."""
    title = _clean_text(title, "title", required=True)
    if roles.is_customer(actor):
        if requester is not None and requester.pk != actor.pk:
            raise field_error("requester", "Customers open tickets for themselves.")
        if parent is not None:
            raise field_error("parent", "Only agents link tickets to incidents.")
        requester = actor
    elif roles.is_agent(actor):
        if requester is None and requester_email:
            requester = customer_find_or_create(email=requester_email)
        if requester is None:
            raise field_error("requester", "Give a requester id or requester_email.")
    else:
        raise NotAllowed("Only customers and agents open tickets.")
    if not requester.is_active:
        raise field_error("requester", "That user is inactive.")
    if not 1 <= tier <= roles.max_tier():
        raise field_error("tier", f"Tier must be between 1 and {roles.max_tier()}.")

    with transaction.atomic():
        if parent is not None:
            parent = _lock(parent)
            _validate_parent(None, parent)
        ticket = Ticket.objects.create(
            title=title,
            description=description or "",
            kind=kind,
            tier=tier,
            urgency=urgency,
            impact=impact,
            priority=priority_for(impact=impact, urgency=urgency),
            requester=requester,
            application=application,
            category=category,
            parent=parent,
        )
        events.ticket_created(ticket, actor)
        if parent is not None:
            _adjust_linked_count(parent.pk, +1, ticket, actor)
    return ticket


def ticket_update(
    *, ticket: Ticket | int, actor: User, changes: dict[str, Any], expected_version: int | None = None
) -> Ticket:
    """Change editable fields. Status, tier and assignee have their own services."""
    forbidden = [f for f in ACTION_ONLY_FIELDS if f in changes]
    if forbidden:
        raise InvalidInput({f: [f"Change {f} through its action endpoint."] for f in forbidden})
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({f: ["This field cannot be changed."] for f in sorted(unknown)})
    if "title" in changes:
        changes["title"] = _clean_text(changes["title"], "title", required=True)
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""

    with transaction.atomic():
        ticket = _lock(ticket)
        _require_worker(actor, ticket)
        _check_version(ticket, expected_version)
        if ticket.status == Status.CLOSED:
            raise Conflict("A closed ticket cannot be changed.")

        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for field in EDITABLE_FIELDS:
            if field not in changes or field == "parent":
                continue
            new = changes[field]
            attname = field + "_id" if field in ("category", "application") else field
            old_value = getattr(ticket, attname)
            new_value = new.pk if hasattr(new, "pk") else new
            if old_value != new_value:
                before[field], after[field] = old_value, new_value
                setattr(ticket, field, new)
        old_parent = ticket.parent_id
        parent_changed = "parent" in changes and (changes["parent"].pk if changes["parent"] else None) != old_parent
        if parent_changed and changes["parent"] is not None:
            _validate_parent(ticket, _lock(changes["parent"]))
        if after.get("kind") not in (None, Kind.INCIDENT) and ticket.linked_count:
            raise field_error("kind", "Tickets are linked to this incident; unlink them first.")

        if not before and not parent_changed:
            return ticket

        fields = list(before)
        old_priority = ticket.priority
        if "urgency" in before or "impact" in before:
            ticket.priority = priority_for(impact=ticket.impact, urgency=ticket.urgency)
        if parent_changed:
            ticket.parent = changes["parent"]
            fields.append("parent")
        if ticket.priority != old_priority:
            fields.append("priority")
        _save(ticket, *fields)

        if before:
            events.record_changes(ticket, actor, EventKind.UPDATED, before, after)
        if ticket.priority != old_priority:
            events.priority_changed(ticket, actor, old_priority, reason="urgency or impact changed")
        if parent_changed:
            if old_parent is not None:
                events.record_changes(ticket, actor, EventKind.UNLINKED, {"parent": old_parent}, {"parent": None})
                _adjust_linked_count(old_parent, -1, ticket, actor)
            if ticket.parent_id is not None:
                events.record_changes(
                    ticket, actor, EventKind.LINKED, {"parent": old_parent}, {"parent": ticket.parent_id}
                )
                _adjust_linked_count(ticket.parent_id, +1, ticket, actor)
    return ticket


# --- status -------------------------------------------------------------------------


def _apply_status(ticket: Ticket, actor: User | None, status: str, resolution: str = "") -> None:
    """Move a locked ticket to ``status`` (already validated) and record it."""
    before = ticket.status
    now = timezone.now()
    ticket.status = status
    fields = ["status"]
    if status == Status.RESOLVED:
        ticket.resolution, ticket.resolved_at = resolution, now
        fields += ["resolution", "resolved_at"]
    elif status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    elif before == Status.RESOLVED:  # reopened: the old resolution no longer holds
        ticket.resolved_at, ticket.resolution = None, ""
        fields += ["resolved_at", "resolution"]
    _save(ticket, *fields)
    # Only a resolution that was actually stored belongs in the audit trail.
    events.status_changed(ticket, actor, before, resolution if status == Status.RESOLVED else "")


def ticket_transition(
    *, ticket: Ticket | int, actor: User, status: str, resolution: str = "", expected_version: int | None = None
) -> Ticket:
    """Move a ticket along the lifecycle (models.TRANSITIONS).

    Agents who may work the ticket's tier move it anywhere the table allows;
    a customer may only reopen or close their own resolved ticket.
    """
    if status not in Status.values:
        raise field_error("status", f"Unknown status; one of {', '.join(Status.values)}.")
    with transaction.atomic():
        ticket = _lock(ticket)
        if roles.is_customer(actor):
            if ticket.requester_id != actor.pk or ticket.status != Status.RESOLVED:
                raise NotAllowed("Customers may only reopen or close their resolved tickets.")
        else:
            _require_worker(actor, ticket)
        _check_version(ticket, expected_version)
        allowed = TRANSITIONS[ticket.status]
        if status not in allowed:
            raise Conflict(
                f"Cannot move a {ticket.status} ticket to {status}.", allowed=sorted(allowed), status=ticket.status
            )
        resolution = _clean_text(resolution, "resolution", required=status == Status.RESOLVED)
        _apply_status(ticket, actor, status, resolution)
    return ticket


# --- assignment and tiers -------------------------------------------------------------


def _set_assignee(ticket: Ticket, actor: User, assignee: User | None) -> None:
    """Assign a locked ticket; taking a new ticket opens it."""
    before = ticket.assignee_id
    ticket.assignee = assignee
    _save(ticket, "assignee")
    events.assigned(ticket, actor, before)
    if assignee is not None and ticket.status == Status.NEW:
        _apply_status(ticket, actor, Status.OPEN)


def ticket_claim(*, ticket: Ticket | int, actor: User) -> Ticket:
    """The actor takes the ticket. 409 when someone else holds it."""
    with transaction.atomic():
        ticket = _lock(ticket)
        _require_worker(actor, ticket)
        _require_active(ticket, "claim")
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
        ticket = _lock(ticket)
        _require_worker(actor, ticket)
        _require_active(ticket, "assign")
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
        ticket = _lock(ticket)
        if actor is not None:
            _require_worker(actor, ticket)
        _require_active(ticket, "escalate")
        reason = _clean_text(reason, "reason", required=True)
        if to_tier <= ticket.tier:
            raise field_error("to_tier", f"Escalation goes above the current tier ({ticket.tier}).")
        if actor is not None and to_tier > roles.max_escalation_tier(actor):
            raise NotAllowed(f"You may escalate up to tier {roles.max_escalation_tier(actor)}.")
        before_tier, before_assignee = ticket.tier, ticket.assignee_id
        ticket.tier, ticket.assignee = to_tier, None
        _save(ticket, "tier", "assignee")
        events.tier_changed(
            ticket,
            actor,
            EventKind.ESCALATED,
            before_tier,
            before_assignee,
            reason=reason,
            summary=(summary or "").strip(),
            steps_tried=(steps_tried or "").strip(),
        )
    return ticket


def ticket_deescalate(*, ticket: Ticket | int, actor: User, to_tier: int, reason: str) -> Ticket:
    """Send the ticket down to ``to_tier``; whoever may work its tier may do so."""
    to_tier = _validate_tier(to_tier)
    with transaction.atomic():
        ticket = _lock(ticket)
        _require_worker(actor, ticket)
        _require_active(ticket, "de-escalate")
        reason = _clean_text(reason, "reason", required=True)
        if to_tier >= ticket.tier:
            raise field_error("to_tier", f"De-escalation goes below the current tier ({ticket.tier}).")
        before_tier, before_assignee = ticket.tier, ticket.assignee_id
        ticket.tier, ticket.assignee = to_tier, None
        _save(ticket, "tier", "assignee")
        events.tier_changed(ticket, actor, EventKind.DEESCALATED, before_tier, before_assignee, reason=reason)
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


def comment_create(*, ticket: Ticket | int, actor: User, body: str, internal: bool = False) -> Comment:
    """Add a comment. Any agent may comment on any ticket (L1 answers every
    customer); customers comment publicly on their own tickets, and a customer
    reply brings a pending or resolved ticket back to open."""
    body = _clean_text(body, "body", required=True)
    customer = roles.is_customer(actor)
    if customer and internal:
        raise field_error("internal", "Customers cannot write internal notes.")
    with transaction.atomic():
        ticket = _lock(ticket)
        if customer and ticket.requester_id != actor.pk:
            raise NotAllowed("Customers comment on their own tickets only.")
        if not customer and not roles.is_agent(actor):
            raise NotAllowed("Only customers and agents comment.")
        if ticket.status == Status.CLOSED:
            raise Conflict("A closed ticket takes no more comments.")
        comment = Comment.objects.create(ticket=ticket, author=actor, body=body, internal=internal)
        fields = []
        if not customer and not internal and ticket.first_responded_at is None and actor.pk != ticket.requester_id:
            ticket.first_responded_at = comment.created_at
            fields.append("first_responded_at")
        _save(ticket, *fields)
        events.commented(ticket, actor, comment.pk, internal)
        if customer and ticket.status in (Status.PENDING, Status.RESOLVED):
            _apply_status(ticket, actor, Status.OPEN)
    return comment
