"""Requesters, creating and editing tickets, incident links."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Application
from helpdesk import roles
from helpdesk.errors import Conflict, InvalidInput, NotAllowed, field_error
from helpdesk.models import User
from helpdesk.text import clean_text
from tickets import events
from tickets.models import (
    Category,
    Kind,
    Level,
    Status,
    Ticket,
    Via,
)
from tickets.services import sla
from tickets.services.base import check_version, lock_ticket, require_worker, save_ticket
from tickets.services.ccs import cc_addresses_clean, cc_apply_locked
from tickets.services.priority import priority_for, tickets_raise_levels

EDITABLE_FIELDS = (
    "title",
    "description",
    "urgency",
    "impact",
    "category",
    "application",
    "kind",
    "major",
    "parent",
    "cc",
)
ACTION_ONLY_FIELDS = ("status", "tier", "assignee")
# Triage is the agents' work (docs/PRODUCT.md "Triage"): a customer's ticket starts as a medium/medium
# service request whatever the customer sent, and only agents change these or link.
TRIAGE_FIELDS = ("kind", "urgency", "impact", "major", "parent")


# --- requesters ----------------------------------------------------------------


def customer_find_or_create(*, email: str, name: str = "") -> User:
    """The user with this e-mail, or a new customer (no usable password) for it,
    named ``name`` ("First Last") when given."""
    email = clean_text(email, "requester_email", required=True).lower()
    existing = User.objects.filter(email__iexact=email).order_by("id").first()
    if existing is not None:
        return existing
    first, _, last = clean_text(name, "name").partition(" ")
    try:
        with transaction.atomic():
            user = User(
                username=email[:150],
                email=email,
                role=roles.Role.CUSTOMER,
                first_name=first[:150],
                last_name=last.strip()[:150],
            )
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        # A concurrent request created it first.
        return User.objects.get(username=email[:150])


def system_user() -> User:
    """The system's identity where a user is needed: the requester of the
    incidents monitoring opens and the author of rule and monitoring notes.
    The one function that returns it; see tickets.events for the audit trail."""
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
    if parent.is_done:
        raise field_error("parent", f"That incident is {parent.status}.")
    if ticket is not None and ticket.linked_count:
        raise field_error("parent", "A ticket with linked tickets cannot be linked to another.")
    if not Ticket.objects.linkable_incidents().filter(pk=parent.pk).exists():
        # Anyone's ticket can say "incident"; only an alert or an agent's "major" speaks for the application.
        raise field_error(
            "parent", "Tickets can only be linked to an incident opened by an alert or flagged major by an agent."
        )


def _adjust_linked_count(parent_id: int, delta: int, child: Ticket, actor: User | None) -> None:
    """Count the link on the (locked) incident; once HELPDESK_INCIDENT_IMPACT_LINKS
    customer tickets are linked, its impact rises to high."""
    Ticket.objects.filter(pk=parent_id).update(
        linked_count=F("linked_count") + delta, version=F("version") + 1, updated_at=timezone.now()
    )
    events.child_link_changed(parent_id, actor, child.pk, linked=delta > 0)
    if delta > 0:
        incident = Ticket.objects.get(pk=parent_id)
        if incident.linked_count >= settings.HELPDESK_INCIDENT_IMPACT_LINKS:
            reason = f"{incident.linked_count} customer tickets linked"
            tickets_raise_levels(tickets=[incident], impact=Level.HIGH, reason=reason, actor=actor)


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
    major: bool = False,
    parent: Ticket | None = None,
    tier: int = 1,
    via: str = Via.WEB,
    follows: Ticket | None = None,
) -> Ticket:
    """Open a ticket. Customers open tickets for themselves; agents name the
    requester by id or e-mail (a new e-mail becomes a customer).

    A customer's ticket is a medium/medium service request whatever kind,
    urgency, impact or major says: agents triage. Ignored, not refused, like a
    customer's requester_email: a client sending its form's defaults still works,
    and the response shows what was stored. The system user (monitoring) keeps
    the levels its alert gives, and a ticket that came in by e-mail
    (``via=Via.EMAIL``) those of its mailbox (a manager's configuration, not the
    sender's). ``follows`` is the closed ticket a new one continues."""
    title = clean_text(title, "title", required=True)
    if roles.is_customer(actor):
        if requester is not None and requester.pk != actor.pk:
            raise field_error("requester", "Customers open tickets for themselves.")
        if parent is not None:
            raise field_error("parent", "Only agents link tickets to incidents.")
        requester = actor
        if not events.is_system_actor(actor) and via != Via.EMAIL:
            kind, urgency, impact, major, tier = Kind.SERVICE_REQUEST, Level.MEDIUM, Level.MEDIUM, False, 1
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
    if major and kind != Kind.INCIDENT:
        raise field_error("major", "Only incidents can be flagged major.")

    with transaction.atomic():
        if parent is not None:
            parent = lock_ticket(parent)
            _validate_parent(None, parent)
        now = timezone.now()
        ticket = Ticket(
            title=title,
            description=description or "",
            kind=kind,
            tier=tier,
            urgency=urgency,
            impact=impact,
            major=major,
            priority=priority_for(impact=impact, urgency=urgency),
            requester=requester,
            application=application,
            category=category,
            parent=parent,
            follows=follows,
            created_at=now,
            queued_at=now,
        )
        sla.refresh_due_times(ticket)
        ticket.save(force_insert=True)
        events.ticket_created(ticket, actor, via=via if via == Via.EMAIL else "")
        if parent is not None:
            _adjust_linked_count(parent.pk, +1, ticket, actor)
    return ticket


def ticket_update(
    *, ticket: Ticket | int, actor: User, changes: dict[str, Any], expected_version: int | None = None
) -> Ticket:
    """Change editable fields. Status, tier and assignee have their own services.

    The steps, in this order (the first refusal wins and nothing is written): the
    input is checked before any lock (``_check_update_input``); the locked, open
    ticket takes the values that differ (``_apply_field_changes``), the incident
    link is checked (``_parent_change``) and the kind rules hold
    (``_apply_kind_rules``); ``cc`` (the whole list) goes through the CC service's
    core (tickets.services.ccs, its own event). Nothing differs: no save, no event. Otherwise the
    priority and SLA due times follow urgency and impact (``_refresh_priority``),
    one save writes every changed column, and the events say what changed
    (``_record_update``), all in one transaction."""
    _check_update_input(actor=actor, changes=changes)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        check_version(ticket, expected_version)
        if ticket.status == Status.CLOSED:
            raise Conflict("A closed ticket cannot be changed.")

        before, after = _apply_field_changes(ticket, changes)
        old_parent = ticket.parent_id
        parent_changed = _parent_change(ticket, changes)
        _apply_kind_rules(ticket, changes, before, after)
        cc_changed = "cc" in changes and cc_apply_locked(ticket, actor, changes["cc"])
        if not before and not parent_changed and not cc_changed:
            return ticket

        fields = list(before)
        old_priority = ticket.priority
        old_due = (ticket.first_response_due_at, ticket.resolution_due_at)
        if parent_changed:
            ticket.parent = changes["parent"]
            fields.append("parent")
        fields += _refresh_priority(ticket, changed=before)
        save_ticket(ticket, *fields)
        _record_update(
            ticket,
            actor,
            before=before,
            after=after,
            old_priority=old_priority,
            old_due=old_due,
            old_parent=old_parent,
            parent_changed=parent_changed,
        )
    return ticket


def _check_update_input(*, actor: User, changes: dict[str, Any]) -> None:
    """Refuse what no ticket state makes right (fields of other services, unknown
    fields, triage by a customer), and clean the texts in ``changes`` in place."""
    forbidden = [f for f in ACTION_ONLY_FIELDS if f in changes]
    if forbidden:
        raise InvalidInput({f: [f"Change {f} through its action endpoint."] for f in forbidden})
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput({f: ["This field cannot be changed."] for f in sorted(unknown)})
    if not roles.is_agent(actor) and any(f in changes for f in TRIAGE_FIELDS):
        raise NotAllowed("Only agents change kind, urgency, impact, major or the incident link.")
    if "title" in changes:
        changes["title"] = clean_text(changes["title"], "title", required=True)
    if "description" in changes and changes["description"] is None:
        changes["description"] = ""
    if "cc" in changes:
        changes["cc"] = cc_addresses_clean(changes["cc"])


def _apply_field_changes(ticket: Ticket, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set on ``ticket`` the editable fields (not the link) whose value differs;
    return their ``before`` and ``after`` values (ids for related rows)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field in EDITABLE_FIELDS:
        if field not in changes or field in ("parent", "cc"):
            continue
        new = changes[field]
        attname = field + "_id" if field in ("category", "application") else field
        old_value = getattr(ticket, attname)
        new_value = new.pk if hasattr(new, "pk") else new
        if old_value != new_value:
            before[field], after[field] = old_value, new_value
            setattr(ticket, field, new)
    return before, after


def _parent_change(ticket: Ticket, changes: dict[str, Any]) -> bool:
    """Whether the incident link changes; a new incident is locked and checked
    (``_validate_parent``). The link itself is set by the caller."""
    if "parent" not in changes:
        return False
    parent = changes["parent"]
    if (parent.pk if parent else None) == ticket.parent_id:
        return False
    if parent is not None:
        _validate_parent(ticket, lock_ticket(parent))
    return True


def _apply_kind_rules(ticket: Ticket, changes: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> None:
    """An incident with linked tickets stays an incident; only incidents are major
    (a ticket that stops being one stops being major, recorded with the kind)."""
    if after.get("kind") not in (None, Kind.INCIDENT) and ticket.linked_count:
        raise field_error("kind", "Tickets are linked to this incident; unlink them first.")
    if ticket.major and ticket.kind != Kind.INCIDENT:
        if changes.get("major"):
            raise field_error("major", "Only incidents can be flagged major.")
        before["major"], after["major"] = True, False
        ticket.major = False


def _refresh_priority(ticket: Ticket, *, changed: dict[str, Any]) -> list[str]:
    """The matrix's priority when urgency or impact changed and, if the priority
    moved, the SLA due times; return the columns this changed."""
    old_priority = ticket.priority
    if "urgency" in changed or "impact" in changed:
        ticket.priority = priority_for(impact=ticket.impact, urgency=ticket.urgency)
    if ticket.priority == old_priority:
        return []
    return ["priority", *sla.refresh_due_times(ticket)]


def _record_update(
    ticket: Ticket,
    actor: User,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    old_priority: int,
    old_due: tuple[Any, Any],
    old_parent: int | None,
    parent_changed: bool,
) -> None:
    """The events of a saved update: the field changes, the priority and due times
    it moved, and the link it changed (with both incidents' linked counts)."""
    if before:
        events.updated(ticket, actor, before, after)
    if ticket.priority != old_priority:
        events.priority_changed(ticket, actor, old_priority, reason="urgency or impact changed")
        sla.record_due_change(ticket, actor, old_due, reason="priority changed")
    if not parent_changed:
        return
    if old_parent is not None:
        events.unlinked(ticket, actor, old_parent)
        _adjust_linked_count(old_parent, -1, ticket, actor)
    if ticket.parent_id is not None:
        events.linked(ticket, actor, old_parent)
        _adjust_linked_count(ticket.parent_id, +1, ticket, actor)
