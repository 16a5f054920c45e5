"""The audit trail: one event per change, and events that nobody can edit or delete (docs/PRODUCT.md "Audit trail")."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from helpdesk.errors import ServiceError
from tickets import services
from tickets.events import EventKind
from tickets.models import Kind, Level, Status, TicketEvent
from tickets.tests.services_helpers import (
    create,
    events_of,
    fresh,
)

pytestmark = pytest.mark.django_db


def _trail(ticket):
    return [(e.kind, e.actor_id, {k: v for k, v in e.data.items() if k != "resolution"}) for e in events_of(ticket)]


def test_a_ticket_life_leaves_one_event_per_change(customer, l1, l2, manager):
    incident = create(l2, customer, kind=Kind.INCIDENT, major=True, title="Checkout down")
    ticket = create(l1, customer, title="Cannot pay")
    services.ticket_claim(ticket=ticket, actor=l1)
    comment = services.comment_create(ticket=ticket, actor=l1, body="Which browser?")
    services.ticket_update(ticket=ticket, actor=l1, changes={"urgency": Level.HIGH, "parent": incident})
    services.ticket_escalate(ticket=ticket, actor=l1, to_tier=2, reason="Payment logs", summary="s", steps_tried="t")
    services.ticket_assign(ticket=ticket, actor=manager, assignee=l2)
    services.ticket_transition(ticket=ticket, actor=l2, status=Status.RESOLVED, resolution="Gateway restarted.")
    services.ticket_transition(ticket=ticket, actor=customer, status=Status.CLOSED)

    sla_change = next(e.data for e in events_of(ticket) if e.kind == EventKind.SLA_CHANGED)
    # P3 -> P2 brings both due times forward.
    assert sla_change["reason"] == "priority changed"
    for due in ("first_response_due_at", "resolution_due_at"):
        assert sla_change["after"][due] < sla_change["before"][due]
    assert _trail(ticket) == [
        (EventKind.CREATED, l1.pk, {"after": events_of(ticket)[0].data["after"]}),
        (EventKind.ASSIGNED, l1.pk, {"before": {"assignee": None}, "after": {"assignee": l1.pk}}),
        (EventKind.STATUS_CHANGED, l1.pk, {"before": {"status": "new"}, "after": {"status": "open"}}),
        (EventKind.COMMENTED, l1.pk, {"comment": comment.pk, "internal": False}),
        (EventKind.UPDATED, l1.pk, {"before": {"urgency": "medium"}, "after": {"urgency": "high"}}),
        (
            EventKind.PRIORITY_CHANGED,
            l1.pk,
            {"before": {"priority": 3}, "after": {"priority": 2}, "reason": "urgency or impact changed"},
        ),
        (EventKind.SLA_CHANGED, l1.pk, sla_change),
        (EventKind.LINKED, l1.pk, {"before": {"parent": None}, "after": {"parent": incident.pk}}),
        (
            EventKind.ESCALATED,
            l1.pk,
            {
                "before": {"tier": 1, "assignee": l1.pk},
                "after": {"tier": 2, "assignee": None},
                "reason": "Payment logs",
                "summary": "s",
                "steps_tried": "t",
            },
        ),
        (EventKind.ASSIGNED, manager.pk, {"before": {"assignee": None}, "after": {"assignee": l2.pk}}),
        (EventKind.STATUS_CHANGED, l2.pk, {"before": {"status": "open"}, "after": {"status": "resolved"}}),
        (EventKind.STATUS_CHANGED, customer.pk, {"before": {"status": "resolved"}, "after": {"status": "closed"}}),
    ]
    assert events_of(ticket)[-2].data["resolution"] == "Gateway restarted."
    assert "resolution" not in events_of(ticket)[-1].data
    assert [e.kind for e in events_of(incident)] == [EventKind.CREATED, EventKind.CHILD_LINKED]
    # Every event is stamped, in order.
    times = [e.at for e in events_of(ticket)]
    assert all(t is not None for t in times) and times == sorted(times)


def test_version_moves_with_every_recorded_change(l1, customer):
    ticket = create(l1, customer)
    versions = [fresh(ticket).version]
    services.ticket_claim(ticket=ticket, actor=l1)  # two changes: assignee, status
    versions.append(fresh(ticket).version)
    services.comment_create(ticket=ticket, actor=l1, body="hi")
    versions.append(fresh(ticket).version)
    services.ticket_transition(ticket=ticket, actor=l1, status=Status.PENDING)
    versions.append(fresh(ticket).version)
    assert versions == [1, 3, 4, 5]
    assert len(events_of(ticket)) == 5


def test_refused_changes_leave_no_event(l1, l2, customer, other_customer):
    ticket = create(l1, customer)
    services.ticket_claim(ticket=ticket, actor=l1)
    n_events = len(events_of(ticket))
    attempts = [
        lambda: services.ticket_claim(ticket=ticket, actor=l2),
        lambda: services.ticket_transition(ticket=ticket, actor=l1, status=Status.CLOSED),
        lambda: services.ticket_transition(ticket=ticket, actor=l1, status=Status.RESOLVED, resolution=""),
        lambda: services.ticket_escalate(ticket=ticket, actor=l1, to_tier=3, reason="r"),
        lambda: services.comment_create(ticket=ticket, actor=other_customer, body="hi"),
        lambda: services.ticket_update(ticket=ticket, actor=l1, changes={"status": "closed"}),
        lambda: services.ticket_update(ticket=ticket, actor=l1, changes={"title": "x"}, expected_version=1),
    ]
    for attempt in attempts:
        with pytest.raises(ServiceError):
            attempt()
    assert len(events_of(ticket)) == n_events


# --- append-only --------------------------------------------------------------------------------


@pytest.fixture
def event(l1, customer):
    ticket = create(l1, customer)
    return events_of(ticket)[0]


def _unchanged(event):
    stored = TicketEvent.objects.get(pk=event.pk)
    return (stored.kind, stored.data, stored.actor_id, stored.at) == (event.kind, event.data, event.actor_id, event.at)


def test_saving_an_existing_event_is_refused(event):
    event.kind = "forged"
    event.data = {"after": {"title": "forged"}}
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.save(update_fields=["kind"])
    event.refresh_from_db()
    assert event.kind == EventKind.CREATED
    assert event.data["after"]["title"] == "Printer jammed"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(TypeError):
        event.delete()
    assert TicketEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_are_refused(event):
    with pytest.raises(TypeError):
        TicketEvent.objects.filter(pk=event.pk).update(kind="forged")
    with pytest.raises(TypeError):
        TicketEvent.objects.all().delete()
    with pytest.raises(TypeError):
        TicketEvent.objects.filter(pk=event.pk).delete()
    assert _unchanged(event)


def test_related_manager_and_bulk_update_are_refused(event):
    ticket = event.ticket
    with pytest.raises(TypeError):
        ticket.events.update(kind="forged")
    with pytest.raises(TypeError):
        ticket.events.all().delete()
    event.kind = "forged"
    with pytest.raises(TypeError), transaction.atomic():  # bulk_update runs in its own atomic block
        TicketEvent.objects.bulk_update([event], ["kind"])
    assert TicketEvent.objects.get(pk=event.pk).kind == EventKind.CREATED


def test_a_ticket_with_events_cannot_be_deleted(event):
    with pytest.raises(ProtectedError):
        event.ticket.delete()
    assert TicketEvent.objects.filter(pk=event.pk).exists()


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is installed on PostgreSQL only")


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tickets_ticketevent SET kind = 'forged' WHERE id = %s",
        "UPDATE tickets_ticketevent SET data = '{}'::jsonb WHERE id = %s",
        "DELETE FROM tickets_ticketevent WHERE id = %s",
        "DELETE FROM tickets_ticketevent WHERE id >= %s",
    ],
)
def test_raw_sql_cannot_change_events_on_postgresql(sql, event):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert _unchanged(event)


@pytest.mark.usefixtures("postgres_only")
def test_raw_sql_insert_is_still_allowed_on_postgresql(event):
    # The trigger guards UPDATE and DELETE only; appending stays possible.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticketevent (ticket_id, at, kind, data) VALUES (%s, now(), 'note', '{}'::jsonb)",
            [event.ticket_id],
        )
    assert TicketEvent.objects.filter(ticket_id=event.ticket_id, kind="note").count() == 1
