"""Claim, assign, escalate, de-escalate and "next ticket", on the services directly (docs/PRODUCT.md "Tiers and escalation", "Next ticket")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.errors import Conflict, InvalidInput, NotAllowed
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.events import EventKind
from tickets.models import Level, Status, Ticket
from tickets.tests.factories import TicketFactory
from tickets.tests.services_helpers import (
    create,
    drive_to,
    events_of,
    fresh,
    last_event,
)

pytestmark = pytest.mark.django_db


# --- claim -----------------------------------------------------------------------------------


def test_claiming_a_new_ticket_opens_it(l1, customer):
    ticket = create(l1, customer)
    result = services.ticket_claim(ticket=ticket, actor=l1)

    stored = fresh(ticket)
    assert result.assignee_id == stored.assignee_id == l1.pk
    assert stored.status == Status.OPEN
    assert stored.version == 3  # created, assigned, opened
    assigned, opened = events_of(ticket)[1:]
    assert (assigned.kind, assigned.actor) == (EventKind.ASSIGNED, l1)
    assert assigned.data == {"before": {"assignee": None}, "after": {"assignee": l1.pk}}
    assert (opened.kind, opened.actor) == (EventKind.STATUS_CHANGED, l1)
    assert opened.data == {"before": {"status": "new"}, "after": {"status": "open"}}


def test_claiming_a_pending_ticket_keeps_it_pending(l1, customer):
    ticket = drive_to(create(l1, customer), Status.PENDING, l1)
    services.ticket_claim(ticket=ticket, actor=l1)
    stored = fresh(ticket)
    assert (stored.assignee_id, stored.status) == (l1.pk, Status.PENDING)
    assert last_event(ticket).kind == EventKind.ASSIGNED


def test_claim_held_by_someone_else_is_a_conflict(l1, l2, customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    n_events = len(events_of(ticket))
    with pytest.raises(Conflict) as exc:
        services.ticket_claim(ticket=ticket, actor=l2)
    assert exc.value.status_code == 409
    assert exc.value.extra["assignee"] == l1.pk
    assert fresh(ticket).assignee_id == l1.pk
    assert len(events_of(ticket)) == n_events


def test_claim_is_idempotent_for_the_holder(l1, customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    version, n_events = fresh(ticket).version, len(events_of(ticket))
    again = services.ticket_claim(ticket=ticket, actor=l1)
    assert again.assignee_id == l1.pk
    assert fresh(ticket).version == version
    assert len(events_of(ticket)) == n_events


@pytest.mark.parametrize(("role", "tier"), [("l1", 2), ("l1", 3), ("l2", 3), ("customer", 1)])
def test_claim_above_own_tier_is_not_allowed(role, tier, request, manager, customer):
    ticket = create(manager, customer, tier=tier)
    with pytest.raises(NotAllowed):
        services.ticket_claim(ticket=ticket, actor=request.getfixturevalue(role))
    assert fresh(ticket).assignee_id is None


@pytest.mark.parametrize(("role", "tier"), [("l2", 1), ("l2", 2), ("l3", 1), ("l3", 3), ("manager", 3)])
def test_agents_claim_their_tier_and_below(role, tier, request, manager, customer):
    actor = request.getfixturevalue(role)
    ticket = create(manager, customer, tier=tier)
    services.ticket_claim(ticket=ticket, actor=actor)
    assert fresh(ticket).assignee_id == actor.pk


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_done_ticket_cannot_be_claimed(status, l1, customer):
    ticket = drive_to(create(l1, customer), status, l1)
    with pytest.raises(Conflict):
        services.ticket_claim(ticket=ticket, actor=l1)
    assert fresh(ticket).assignee_id is None


# --- assign ----------------------------------------------------------------------------------


def test_assign_unassigned_ticket_to_an_agent(l1, l2, customer):
    ticket = create(l1, customer)
    services.ticket_assign(ticket=ticket, actor=l1, assignee=l2)
    stored = fresh(ticket)
    assert (stored.assignee_id, stored.status) == (l2.pk, Status.OPEN)
    assigned = events_of(ticket, EventKind.ASSIGNED)
    assert len(assigned) == 1 and assigned[0].actor == l1
    assert assigned[0].data == {"before": {"assignee": None}, "after": {"assignee": l2.pk}}


def test_assignee_must_be_able_to_work_the_tier(manager, l1, l2, customer):
    ticket = create(manager, customer, tier=2)
    for unfit in (l1, customer, UserFactory(role=Role.L3, is_active=False)):
        with pytest.raises(InvalidInput) as exc:
            services.ticket_assign(ticket=ticket, actor=manager, assignee=unfit)
        assert "assignee" in exc.value.detail
    assert fresh(ticket).assignee_id is None
    services.ticket_assign(ticket=ticket, actor=manager, assignee=l2)
    assert fresh(ticket).assignee_id == l2.pk


def test_non_manager_cannot_reassign_someone_elses_ticket(l1, l2, l3, customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    for target in (l2, l3, None):
        with pytest.raises(NotAllowed):
            services.ticket_assign(ticket=ticket, actor=l2, assignee=target)
    assert fresh(ticket).assignee_id == l1.pk


def test_holder_may_hand_over_or_unassign(l1, l2, customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    services.ticket_assign(ticket=ticket, actor=l1, assignee=l2)
    assert fresh(ticket).assignee_id == l2.pk
    services.ticket_assign(ticket=ticket, actor=l2, assignee=None)
    stored = fresh(ticket)
    assert stored.assignee_id is None
    assert stored.status == Status.OPEN
    assert last_event(ticket).data == {"before": {"assignee": l2.pk}, "after": {"assignee": None}}


@pytest.mark.parametrize("role", ["manager", "admin_user"])
def test_managers_reassign_anything(role, request, l1, l2, customer):
    actor = request.getfixturevalue(role)
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    services.ticket_assign(ticket=ticket, actor=actor, assignee=l2)
    assert fresh(ticket).assignee_id == l2.pk
    event = last_event(ticket)
    assert (event.kind, event.actor) == (EventKind.ASSIGNED, actor)
    assert event.data == {"before": {"assignee": l1.pk}, "after": {"assignee": l2.pk}}


def test_assigning_the_current_assignee_records_nothing(l1, customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    version, n_events = fresh(ticket).version, len(events_of(ticket))
    services.ticket_assign(ticket=ticket, actor=l1, assignee=l1)
    assert (fresh(ticket).version, len(events_of(ticket))) == (version, n_events)


def test_assign_needs_an_agent_of_the_tier(l1, l2, customer):
    ticket = create(l2, customer, tier=2)
    with pytest.raises(NotAllowed):
        services.ticket_assign(ticket=ticket, actor=l1, assignee=l2)
    with pytest.raises(NotAllowed):
        services.ticket_assign(ticket=ticket, actor=customer, assignee=l2)


def test_done_ticket_cannot_be_assigned(manager, l1, customer):
    ticket = drive_to(create(l1, customer), Status.RESOLVED, l1)
    with pytest.raises(Conflict):
        services.ticket_assign(ticket=ticket, actor=manager, assignee=l1)


# --- escalate --------------------------------------------------------------------------------

ESCALATIONS_ALLOWED = [
    ("l1", 1, 2),
    ("l2", 1, 2),
    ("l2", 1, 3),
    ("l2", 2, 3),
    ("l3", 1, 3),
    ("l3", 2, 3),
    ("manager", 1, 2),
    ("manager", 1, 3),
    ("manager", 2, 3),
    ("admin_user", 1, 3),
]
ESCALATIONS_REFUSED = [
    ("l1", 1, 3),  # L1 may escalate to 2 only
    ("l1", 2, 3),  # and cannot work tier 2
    ("customer", 1, 2),
]


@pytest.mark.parametrize(("role", "source", "target"), ESCALATIONS_ALLOWED)
def test_escalation_allowed(role, source, target, request, manager, customer):
    actor = request.getfixturevalue(role)
    ticket = create(manager, customer, tier=source)
    services.ticket_claim(ticket=ticket, actor=actor)

    result = services.ticket_escalate(
        ticket=ticket, actor=actor, to_tier=target, reason=" Needs logs ", summary=" DB slow ", steps_tried=" restart "
    )

    stored = fresh(ticket)
    assert result.tier == stored.tier == target
    assert stored.assignee_id is None
    assert stored.status == Status.OPEN
    event = last_event(ticket)
    assert (event.kind, event.actor) == (EventKind.ESCALATED, actor)
    assert event.data == {
        "before": {"tier": source, "assignee": actor.pk},
        "after": {"tier": target, "assignee": None},
        "reason": "Needs logs",
        "summary": "DB slow",
        "steps_tried": "restart",
    }


@pytest.mark.parametrize(("role", "source", "target"), ESCALATIONS_REFUSED)
def test_escalation_refused_by_role(role, source, target, request, manager, customer):
    ticket = create(manager, customer, tier=source)
    with pytest.raises(NotAllowed):
        services.ticket_escalate(ticket=ticket, actor=request.getfixturevalue(role), to_tier=target, reason="r")
    assert fresh(ticket).tier == source
    assert events_of(ticket, EventKind.ESCALATED) == []


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_escalation_needs_a_reason(reason, l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_escalate(ticket=ticket, actor=l1, to_tier=2, reason=reason)
    assert "reason" in exc.value.detail
    assert fresh(ticket).tier == 1


@pytest.mark.parametrize(("source", "target"), [(1, 1), (2, 2), (2, 1), (3, 1)])
def test_escalation_goes_up(source, target, manager, customer):
    ticket = create(manager, customer, tier=source)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_escalate(ticket=ticket, actor=manager, to_tier=target, reason="r")
    assert "to_tier" in exc.value.detail
    assert fresh(ticket).tier == source


@pytest.mark.parametrize("target", [0, 4, -1, "2", 2.0, True, None])
def test_escalation_target_must_be_a_tier(target, manager, customer):
    ticket = create(manager, customer)
    with pytest.raises(InvalidInput):
        services.ticket_escalate(ticket=ticket, actor=manager, to_tier=target, reason="r")
    assert fresh(ticket).tier == 1


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_done_ticket_cannot_be_escalated(status, l1, manager, customer):
    ticket = drive_to(create(l1, customer), status, l1)
    with pytest.raises(Conflict):
        services.ticket_escalate(ticket=ticket, actor=manager, to_tier=2, reason="r")
    assert fresh(ticket).tier == 1


def test_pending_ticket_can_be_escalated(l1, customer):
    ticket = drive_to(create(l1, customer), Status.PENDING, l1)
    services.ticket_escalate(ticket=ticket, actor=l1, to_tier=2, reason="r")
    assert (fresh(ticket).tier, fresh(ticket).status) == (2, Status.PENDING)


def test_system_escalation_has_no_actor_and_no_limit(l1, customer):
    ticket = create(l1, customer)
    services.ticket_escalate(ticket=ticket, actor=None, to_tier=3, reason="Resolution overdue")
    assert fresh(ticket).tier == 3
    event = last_event(ticket)
    assert event.kind == EventKind.ESCALATED and event.actor is None


# --- de-escalate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "source", "target"),
    [("l2", 2, 1), ("l3", 3, 2), ("l3", 3, 1), ("manager", 3, 1), ("admin_user", 2, 1)],
)
def test_deescalation_allowed(role, source, target, request, manager, customer):
    actor = request.getfixturevalue(role)
    ticket = create(manager, customer, tier=source)
    services.ticket_claim(ticket=ticket, actor=actor)

    services.ticket_deescalate(ticket=ticket, actor=actor, to_tier=target, reason=" Known issue, L1 can apply ")

    stored = fresh(ticket)
    assert (stored.tier, stored.assignee_id) == (target, None)
    event = last_event(ticket)
    assert (event.kind, event.actor) == (EventKind.DEESCALATED, actor)
    assert event.data == {
        "before": {"tier": source, "assignee": actor.pk},
        "after": {"tier": target, "assignee": None},
        "reason": "Known issue, L1 can apply",
    }


@pytest.mark.parametrize(("role", "source"), [("l1", 2), ("l2", 3), ("customer", 2)])
def test_deescalation_needs_an_agent_of_the_tier(role, source, request, manager, customer):
    ticket = create(manager, customer, tier=source)
    with pytest.raises(NotAllowed):
        services.ticket_deescalate(ticket=ticket, actor=request.getfixturevalue(role), to_tier=1, reason="r")
    assert fresh(ticket).tier == source


@pytest.mark.parametrize(("source", "target"), [(1, 1), (2, 2), (2, 3)])
def test_deescalation_goes_down(source, target, manager, customer):
    ticket = create(manager, customer, tier=source)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_deescalate(ticket=ticket, actor=manager, to_tier=target, reason="r")
    assert "to_tier" in exc.value.detail
    assert fresh(ticket).tier == source


def test_deescalation_needs_a_reason(l2, customer):
    ticket = create(l2, customer, tier=2)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_deescalate(ticket=ticket, actor=l2, to_tier=1, reason="  ")
    assert "reason" in exc.value.detail
    assert fresh(ticket).tier == 2


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_done_ticket_cannot_be_deescalated(status, l2, customer):
    ticket = drive_to(create(l2, customer, tier=2), status, l2)
    with pytest.raises(Conflict):
        services.ticket_deescalate(ticket=ticket, actor=l2, to_tier=1, reason="r")
    assert fresh(ticket).tier == 2


# --- HELPDESK_TIERS ---------------------------------------------------------------------------


@pytest.fixture
def two_tiers(settings):
    settings.HELPDESK_TIERS = 2


@pytest.mark.usefixtures("two_tiers")
def test_two_tiers_make_tier_3_invalid(manager, l2, customer):
    ticket = create(manager, customer, tier=2)
    for actor in (manager, l2):
        with pytest.raises(InvalidInput):
            services.ticket_escalate(ticket=ticket, actor=actor, to_tier=3, reason="r")
    assert fresh(ticket).tier == 2
    with pytest.raises(InvalidInput):
        services.ticket_create(actor=manager, title="x", requester=customer, tier=3)
    with pytest.raises(InvalidInput):
        services.next_ticket_claim(actor=manager, tier=3)


@pytest.mark.usefixtures("two_tiers")
def test_two_tiers_l3_works_tier_2_at_most(l3, manager, customer):
    stray = TicketFactory(tier=3, requester=customer)  # left over from a 3-tier setup
    ticket = create(manager, customer, tier=2)

    claimed = services.next_ticket_claim(actor=l3)  # defaults to the L3's capped tier

    assert claimed.pk == ticket.pk
    with pytest.raises(NotAllowed):
        services.ticket_claim(ticket=stray, actor=l3)


@pytest.mark.usefixtures("two_tiers")
def test_two_tiers_l1_escalates_to_the_last_tier(l1, customer):
    ticket = create(l1, customer)
    services.ticket_escalate(ticket=ticket, actor=l1, to_tier=2, reason="r")
    assert fresh(ticket).tier == 2


def test_one_tier_has_nowhere_to_escalate(settings, manager, customer):
    settings.HELPDESK_TIERS = 1
    ticket = create(manager, customer)
    with pytest.raises(InvalidInput):
        services.ticket_escalate(ticket=ticket, actor=manager, to_tier=2, reason="r")


# --- next ticket -----------------------------------------------------------------------------


def _queued(actor, customer, *, urgency=Level.MEDIUM, impact=Level.MEDIUM, due_in=None, tier=1):
    ticket = create(actor, customer, urgency=urgency, impact=impact, tier=tier)
    due = None if due_in is None else timezone.now() + timedelta(hours=due_in)
    Ticket.objects.filter(pk=ticket.pk).update(resolution_due_at=due)
    return fresh(ticket)


def test_next_ticket_order_priority_then_due_then_oldest(l1, manager, customer):
    p3_early = _queued(manager, customer, due_in=1)  # P3
    p2_no_due = _queued(manager, customer, urgency=Level.HIGH)  # P2
    p2_late = _queued(manager, customer, urgency=Level.HIGH, due_in=8)
    p2_early_old = _queued(manager, customer, urgency=Level.HIGH, due_in=2)
    p2_early_new = _queued(manager, customer, urgency=Level.HIGH, due_in=2)
    Ticket.objects.filter(pk=p2_early_new.pk).update(resolution_due_at=fresh(p2_early_old).resolution_due_at)
    p2_earliest = _queued(manager, customer, impact=Level.HIGH, due_in=1.5)

    order = []
    while (claimed := services.next_ticket_claim(actor=l1)) is not None:
        order.append(claimed.pk)
        assert (claimed.assignee_id, claimed.status) == (l1.pk, Status.OPEN)

    assert order == [p.pk for p in (p2_earliest, p2_early_old, p2_early_new, p2_late, p2_no_due, p3_early)]


def test_next_ticket_skips_what_is_not_queued(l1, l2, manager, customer):
    best = dict(urgency=Level.HIGH, impact=Level.HIGH)
    held = _queued(manager, customer, **best)
    services.ticket_claim(ticket=held, actor=l2)
    pending = drive_to(_queued(manager, customer, **best), Status.PENDING, manager)
    drive_to(_queued(manager, customer, **best), Status.RESOLVED, manager)
    drive_to(_queued(manager, customer, **best), Status.CLOSED, manager)
    other_tier = _queued(manager, customer, tier=2, **best)
    # An escalated-and-returned ticket is open and unassigned: it is in the queue.
    wanted = _queued(manager, customer, impact=Level.LOW, urgency=Level.LOW)
    services.ticket_claim(ticket=wanted, actor=l1)
    services.ticket_assign(ticket=wanted, actor=l1, assignee=None)

    claimed = services.next_ticket_claim(actor=l1)

    assert claimed.pk == wanted.pk
    assert services.next_ticket_claim(actor=l1) is None
    assert fresh(pending).assignee_id is None
    assert fresh(other_tier).assignee_id is None
    assert fresh(held).assignee_id == l2.pk


def test_next_ticket_defaults_to_own_tier_and_accepts_a_lower_one(l1, l2, manager, customer):
    tier1 = _queued(manager, customer, urgency=Level.HIGH, impact=Level.HIGH)
    tier2 = _queued(manager, customer, tier=2, impact=Level.LOW, urgency=Level.LOW)
    assert services.next_ticket_claim(actor=l2).pk == tier2.pk
    assert services.next_ticket_claim(actor=l2) is None  # tier 1 is not in an L2's default queue
    assert services.next_ticket_claim(actor=l2, tier=1).pk == tier1.pk


def test_next_ticket_records_assignment_and_opening(l1, customer):
    ticket = _queued(l1, customer)
    services.next_ticket_claim(actor=l1)
    assigned, opened = events_of(ticket)[-2:]
    assert (assigned.kind, assigned.actor) == (EventKind.ASSIGNED, l1)
    assert assigned.data == {"before": {"assignee": None}, "after": {"assignee": l1.pk}}
    assert (opened.kind, opened.actor) == (EventKind.STATUS_CHANGED, l1)
    assert opened.data == {"before": {"status": "new"}, "after": {"status": "open"}}


def test_next_ticket_on_empty_queue_is_none(l1, manager, customer):
    _queued(manager, customer, tier=2)
    assert services.next_ticket_claim(actor=l1) is None


def test_next_ticket_refuses_customers(customer):
    with pytest.raises(NotAllowed):
        services.next_ticket_claim(actor=customer)
    with pytest.raises(NotAllowed):
        services.next_ticket_claim(actor=customer, tier=1)


@pytest.mark.parametrize(("role", "tier"), [("l1", 2), ("l1", 3), ("l2", 3)])
def test_next_ticket_refuses_tiers_above_the_agent(role, tier, request, manager, customer):
    ticket = _queued(manager, customer, tier=tier)
    with pytest.raises(NotAllowed):
        services.next_ticket_claim(actor=request.getfixturevalue(role), tier=tier)
    assert fresh(ticket).assignee_id is None


@pytest.mark.parametrize("tier", [0, 4, "1", True])
def test_next_ticket_invalid_tier(tier, l3):
    with pytest.raises(InvalidInput):
        services.next_ticket_claim(actor=l3, tier=tier)
