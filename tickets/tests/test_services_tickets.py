"""Requesters, ticket creation, editing and incident links, on the services directly."""

from __future__ import annotations

import pytest

from catalog.tests.factories import ApplicationFactory
from helpdesk.errors import Conflict, InvalidInput, NotAllowed, StaleVersion
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.events import EventKind
from tickets.models import Kind, Level, Status, Ticket
from tickets.tests.factories import CategoryFactory
from tickets.tests.services_helpers import (
    create,
    drive_to,
    events_of,
    fresh,
)

pytestmark = pytest.mark.django_db


# --- customer_find_or_create -------------------------------------------------------------


def test_new_email_becomes_a_customer_without_usable_password():
    user = services.customer_find_or_create(email="  Jane.Doe@Example.COM ")
    user.refresh_from_db()
    assert user.role == Role.CUSTOMER
    assert user.email == "jane.doe@example.com"
    assert user.username == "jane.doe@example.com"
    assert not user.has_usable_password()
    assert user.is_active


def test_existing_email_is_reused_case_insensitively(customer):
    count = User.objects.count()
    found = services.customer_find_or_create(email=customer.email.upper())
    assert found.pk == customer.pk
    assert User.objects.count() == count


def test_second_lookup_reuses_the_created_customer():
    first = services.customer_find_or_create(email="bob@example.com")
    second = services.customer_find_or_create(email="BOB@example.com")
    assert first.pk == second.pk
    assert User.objects.filter(email__iexact="bob@example.com").count() == 1


@pytest.mark.parametrize("email", ["", "   ", None])
def test_blank_email_is_invalid(email):
    count = User.objects.count()
    with pytest.raises(InvalidInput) as exc:
        services.customer_find_or_create(email=email)
    assert "requester_email" in exc.value.detail
    assert User.objects.count() == count


# --- ticket_create ---------------------------------------------------------------------------


def test_agent_creates_with_requester_email_of_a_new_customer(l1):
    ticket = services.ticket_create(actor=l1, title="VPN down", requester_email="New.Person@example.com")
    requester = fresh(ticket).requester
    assert requester.email == "new.person@example.com"
    assert requester.role == Role.CUSTOMER
    assert not requester.has_usable_password()


def test_agent_creates_with_requester_email_of_an_existing_user(l1, customer):
    ticket = services.ticket_create(actor=l1, title="VPN down", requester_email=customer.email.title())
    assert fresh(ticket).requester_id == customer.pk


def test_requester_id_wins_over_email(l1, customer, other_customer):
    ticket = services.ticket_create(actor=l1, title="x", requester=customer, requester_email=other_customer.email)
    assert ticket.requester_id == customer.pk


def test_customer_creates_for_themselves(customer):
    ticket = services.ticket_create(actor=customer, title="My mail is gone")
    assert ticket.requester_id == customer.pk
    assert (ticket.status, ticket.tier, ticket.assignee_id) == (Status.NEW, 1, None)


def test_customer_cannot_create_for_someone_else(customer, other_customer):
    with pytest.raises(InvalidInput) as exc:
        services.ticket_create(actor=customer, title="x", requester=other_customer)
    assert "requester" in exc.value.detail
    assert not Ticket.objects.exists()


def test_customer_naming_themselves_as_requester_is_fine(customer):
    ticket = services.ticket_create(actor=customer, title="x", requester=customer)
    assert ticket.requester_id == customer.pk


@pytest.mark.parametrize("email", [None, ""])
def test_agent_without_requester_is_refused(email, l1):
    with pytest.raises(InvalidInput) as exc:
        services.ticket_create(actor=l1, title="x", requester_email=email)
    assert "requester" in exc.value.detail
    assert not Ticket.objects.exists()


def test_inactive_requester_is_refused(l1):
    gone = UserFactory(role=Role.CUSTOMER, is_active=False)
    with pytest.raises(InvalidInput):
        services.ticket_create(actor=l1, title="x", requester=gone)
    with pytest.raises(InvalidInput):
        services.ticket_create(actor=l1, title="x", requester_email=gone.email)
    assert not Ticket.objects.exists()


def test_inactive_user_cannot_open_tickets(customer):
    disabled_agent = UserFactory(role=Role.L2, is_active=False)
    with pytest.raises(NotAllowed):
        services.ticket_create(actor=disabled_agent, title="x", requester=customer)


@pytest.mark.parametrize("title", ["", "   "])
def test_blank_title_is_invalid(title, l1, customer):
    with pytest.raises(InvalidInput) as exc:
        services.ticket_create(actor=l1, title=title, requester=customer)
    assert "title" in exc.value.detail


@pytest.mark.parametrize("tier", [0, 4])
def test_tier_out_of_range_is_invalid(tier, l1, customer):
    with pytest.raises(InvalidInput) as exc:
        services.ticket_create(actor=l1, title="x", requester=customer, tier=tier)
    assert "tier" in exc.value.detail


def test_created_event_records_the_initial_state(l1, customer):
    app, category = ApplicationFactory(), CategoryFactory()
    ticket = services.ticket_create(
        actor=l1,
        title="  Checkout slow  ",
        requester=customer,
        application=app,
        category=category,
        kind=Kind.INCIDENT,
        urgency=Level.HIGH,
        impact=Level.LOW,
        tier=2,
    )
    assert ticket.title == "Checkout slow"
    assert ticket.version == 1
    [event] = events_of(ticket)
    assert event.kind == EventKind.CREATED
    assert event.actor == l1
    assert event.data == {
        "after": {
            "title": "Checkout slow",
            "kind": "incident",
            "status": "new",
            "tier": 2,
            "urgency": "high",
            "impact": "low",
            "major": False,
            "priority": 3,
            "requester": customer.pk,
            "application": app.pk,
            "category": category.pk,
            "parent": None,
        }
    }


# --- ticket_update ---------------------------------------------------------------------------


def test_field_changes_produce_one_updated_event(l1, customer):
    ticket = create(l1, customer, title="Old title", description="old")
    category = CategoryFactory()
    version = fresh(ticket).version

    result = services.ticket_update(
        ticket=ticket, actor=l1, changes={"title": " New title ", "description": "new", "category": category}
    )

    stored = fresh(ticket)
    assert (stored.title, stored.description, stored.category_id) == ("New title", "new", category.pk)
    assert result.version == stored.version == version + 1
    [event] = events_of(ticket, EventKind.UPDATED)
    assert event.actor == l1
    assert event.data == {
        "before": {"title": "Old title", "description": "old", "category": None},
        "after": {"title": "New title", "description": "new", "category": category.pk},
    }
    assert events_of(ticket, EventKind.PRIORITY_CHANGED) == []


def test_unchanged_values_record_nothing(l1, customer):
    ticket = create(l1, customer, title="Same")
    version = fresh(ticket).version
    services.ticket_update(ticket=ticket, actor=l1, changes={"title": "Same", "urgency": "medium"})
    assert fresh(ticket).version == version
    assert [e.kind for e in events_of(ticket)] == [EventKind.CREATED]


def test_only_changed_fields_are_in_the_event(l1, customer):
    ticket = create(l1, customer, title="Same", description="old")
    services.ticket_update(ticket=ticket, actor=l1, changes={"title": "Same", "description": "new"})
    [event] = events_of(ticket, EventKind.UPDATED)
    assert event.data == {"before": {"description": "old"}, "after": {"description": "new"}}


def test_clearing_application_is_recorded(l1, customer):
    app = ApplicationFactory()
    ticket = create(l1, customer, application=app)
    services.ticket_update(ticket=ticket, actor=l1, changes={"application": None})
    assert fresh(ticket).application_id is None
    [event] = events_of(ticket, EventKind.UPDATED)
    assert event.data == {"before": {"application": app.pk}, "after": {"application": None}}


def test_urgency_change_recomputes_priority(l2, customer):
    ticket = create(l2, customer, impact=Level.HIGH, urgency=Level.LOW)
    assert ticket.priority == 3
    version = fresh(ticket).version

    services.ticket_update(ticket=ticket, actor=l2, changes={"urgency": Level.HIGH})

    stored = fresh(ticket)
    assert stored.priority == 1
    assert stored.version == version + 1
    kinds = [e.kind for e in events_of(ticket)]
    assert kinds == [EventKind.CREATED, EventKind.UPDATED, EventKind.PRIORITY_CHANGED, EventKind.SLA_CHANGED]
    updated, priority = events_of(ticket)[1:3]
    assert updated.data == {"before": {"urgency": "low"}, "after": {"urgency": "high"}}
    assert priority.actor == l2
    assert priority.data == {
        "before": {"priority": 3},
        "after": {"priority": 1},
        "reason": "urgency or impact changed",
    }


def test_impact_change_recomputes_priority(l1, customer):
    ticket = create(l1, customer)
    services.ticket_update(ticket=ticket, actor=l1, changes={"impact": Level.LOW})
    assert fresh(ticket).priority == 4
    assert len(events_of(ticket, EventKind.PRIORITY_CHANGED)) == 1


def test_urgency_and_impact_change_with_same_priority_writes_no_priority_event(l1, customer):
    ticket = create(l1, customer)  # medium/medium -> 3
    services.ticket_update(ticket=ticket, actor=l1, changes={"impact": Level.LOW, "urgency": Level.HIGH})  # -> 3
    assert fresh(ticket).priority == 3
    assert events_of(ticket, EventKind.PRIORITY_CHANGED) == []
    [event] = events_of(ticket, EventKind.UPDATED)
    assert event.data["after"] == {"urgency": "high", "impact": "low"}


@pytest.mark.parametrize(("field", "value"), [("status", "closed"), ("tier", 3), ("assignee", None)])
def test_action_only_fields_are_refused(field, value, l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_update(ticket=ticket, actor=l1, changes={field: value, "title": "changed"})
    assert list(exc.value.detail) == [field]
    stored = fresh(ticket)
    assert stored.title == "Printer jammed" and stored.version == 1


@pytest.mark.parametrize("field", ["priority", "requester", "linked_count", "version"])
def test_non_editable_fields_are_refused(field, l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_update(ticket=ticket, actor=l1, changes={field: 1})
    assert field in exc.value.detail
    assert fresh(ticket).version == 1


def test_blank_title_update_is_invalid(l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput):
        services.ticket_update(ticket=ticket, actor=l1, changes={"title": "  "})


def test_stale_expected_version_is_refused(l1, customer):
    ticket = create(l1, customer)
    services.ticket_update(ticket=ticket, actor=l1, changes={"title": "v2"}, expected_version=1)
    with pytest.raises(StaleVersion):
        services.ticket_update(ticket=ticket, actor=l1, changes={"title": "v3"}, expected_version=1)
    stored = fresh(ticket)
    assert (stored.title, stored.version) == ("v2", 2)
    assert len(events_of(ticket, EventKind.UPDATED)) == 1


def test_update_needs_an_agent_of_the_tier(l1, l2, customer):
    ticket = create(l1, customer, tier=2)
    for actor in (l1, customer):
        with pytest.raises(NotAllowed):
            services.ticket_update(ticket=ticket, actor=actor, changes={"title": "hijack"})
    services.ticket_update(ticket=ticket, actor=l2, changes={"title": "fine"})
    assert fresh(ticket).title == "fine"


def test_closed_ticket_cannot_be_updated(l1, customer):
    ticket = drive_to(create(l1, customer), Status.CLOSED, l1)
    with pytest.raises(Conflict):
        services.ticket_update(ticket=ticket, actor=l1, changes={"title": "late"})


# --- parent links ----------------------------------------------------------------------------


@pytest.fixture
def incident(l2, customer):
    """An incident tickets may link to: an agent flagged it major."""
    return create(l2, customer, title="Checkout down", kind=Kind.INCIDENT, major=True)


def test_link_and_unlink_maintain_linked_count(l1, customer, incident):
    ticket = create(l1, customer)
    incident_version = fresh(incident).version

    services.ticket_update(ticket=ticket, actor=l1, changes={"parent": incident})

    assert fresh(ticket).parent_id == incident.pk
    assert fresh(incident).linked_count == 1
    assert fresh(incident).version == incident_version + 1
    linked = events_of(ticket, EventKind.LINKED)
    assert len(linked) == 1 and linked[0].actor == l1
    assert linked[0].data == {"before": {"parent": None}, "after": {"parent": incident.pk}}
    child = events_of(incident, EventKind.CHILD_LINKED)
    assert len(child) == 1 and child[0].actor == l1
    assert child[0].data == {"child": ticket.pk}
    assert events_of(ticket, EventKind.UPDATED) == []

    services.ticket_update(ticket=ticket, actor=l1, changes={"parent": None})

    assert fresh(ticket).parent_id is None
    assert fresh(incident).linked_count == 0
    unlinked = events_of(ticket, EventKind.UNLINKED)
    assert len(unlinked) == 1
    assert unlinked[0].data == {"before": {"parent": incident.pk}, "after": {"parent": None}}
    assert [e.data for e in events_of(incident, EventKind.CHILD_UNLINKED)] == [{"child": ticket.pk}]


def test_relinking_to_the_same_parent_is_a_no_op(l1, customer, incident):
    ticket = create(l1, customer, parent=incident)
    services.ticket_update(ticket=ticket, actor=l1, changes={"parent": incident})
    assert fresh(incident).linked_count == 1
    assert events_of(ticket, EventKind.LINKED) == []
    assert len(events_of(incident, EventKind.CHILD_LINKED)) == 1


def test_moving_to_another_incident_adjusts_both_counts(l1, l2, customer, incident):
    other = create(l2, customer, title="Payments down", kind=Kind.INCIDENT, major=True)
    ticket = create(l1, customer)
    services.ticket_update(ticket=ticket, actor=l1, changes={"parent": incident})
    services.ticket_update(ticket=ticket, actor=l1, changes={"parent": other})
    assert fresh(incident).linked_count == 0
    assert fresh(other).linked_count == 1
    assert [e.kind for e in events_of(ticket)][-2:] == [EventKind.UNLINKED, EventKind.LINKED]
    assert events_of(ticket, EventKind.LINKED)[-1].data == {
        "before": {"parent": incident.pk},
        "after": {"parent": other.pk},
    }
    assert len(events_of(incident, EventKind.CHILD_UNLINKED)) == 1
    assert len(events_of(other, EventKind.CHILD_LINKED)) == 1


def test_linked_count_counts_every_child(l1, customer, incident):
    tickets = [create(l1, customer) for _ in range(3)]
    for t in tickets:
        services.ticket_update(ticket=t, actor=l1, changes={"parent": incident})
    services.ticket_update(ticket=tickets[0], actor=l1, changes={"parent": None})
    assert fresh(incident).linked_count == 2 == incident.children.count()


def test_ticket_create_with_parent_links_it(l1, customer, incident):
    ticket = create(l1, customer, parent=incident)
    assert fresh(ticket).parent_id == incident.pk
    assert fresh(incident).linked_count == 1
    [event] = events_of(incident, EventKind.CHILD_LINKED)
    assert event.actor == l1 and event.data == {"child": ticket.pk}


def test_customer_cannot_link_at_creation(customer, incident):
    with pytest.raises(InvalidInput) as exc:
        services.ticket_create(actor=customer, title="x", parent=incident)
    assert "parent" in exc.value.detail
    assert fresh(incident).linked_count == 0


def test_linking_to_a_non_incident_is_refused(l1, customer):
    request_ticket = create(l1, customer, kind=Kind.SERVICE_REQUEST)
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_update(ticket=ticket, actor=l1, changes={"parent": request_ticket})
    assert "parent" in exc.value.detail
    assert fresh(ticket).parent_id is None
    assert fresh(request_ticket).linked_count == 0
    with pytest.raises(InvalidInput):
        services.ticket_create(actor=l1, title="x", requester=customer, parent=request_ticket)
    assert fresh(request_ticket).linked_count == 0


def test_incident_cannot_be_its_own_parent(l2, incident):
    with pytest.raises(InvalidInput):
        services.ticket_update(ticket=incident, actor=l2, changes={"parent": incident})
    assert fresh(incident).parent_id is None and fresh(incident).linked_count == 0


def test_linking_to_a_linked_incident_is_refused(l1, l2, customer, incident):
    child_incident = create(l2, customer, kind=Kind.INCIDENT, major=True, parent=incident)
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput):
        services.ticket_update(ticket=ticket, actor=l1, changes={"parent": child_incident})
    assert fresh(child_incident).linked_count == 0


def test_ticket_with_children_cannot_be_linked(l1, l2, customer, incident):
    other = create(l2, customer, kind=Kind.INCIDENT, major=True)
    create(l1, customer, parent=incident)
    with pytest.raises(InvalidInput):
        services.ticket_update(ticket=incident, actor=l2, changes={"parent": other})
    assert fresh(other).linked_count == 0


def test_linking_to_a_closed_incident_is_refused(l1, l2, customer, incident):
    drive_to(incident, Status.CLOSED, l2)
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput):
        services.ticket_update(ticket=ticket, actor=l1, changes={"parent": incident})
    assert fresh(incident).linked_count == 0


def test_incident_with_linked_tickets_keeps_its_kind(l1, l2, customer, incident):
    create(l1, customer, parent=incident)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_update(ticket=incident, actor=l2, changes={"kind": Kind.SERVICE_REQUEST})
    assert "kind" in exc.value.detail
    assert fresh(incident).kind == Kind.INCIDENT
    assert events_of(incident, EventKind.UPDATED) == []
