"""Priority matrix and re-prioritisation, tested on the services directly (docs/PRODUCT.md "Priority matrix")."""

from __future__ import annotations

import pytest

from helpdesk.errors import InvalidInput, NotAllowed
from tickets import services
from tickets.events import EventKind
from tickets.models import DEFAULT_MATRIX, PRIORITY_LABELS, Level, PriorityMatrixCell, Status, Ticket
from tickets.tests.services_helpers import (
    create,
    drive_to,
    events_of,
    fresh,
)

pytestmark = pytest.mark.django_db

ITIL = [
    ("high", "high", 1),
    ("high", "medium", 2),
    ("high", "low", 3),
    ("medium", "high", 2),
    ("medium", "medium", 3),
    ("medium", "low", 4),
    ("low", "high", 3),
    ("low", "medium", 4),
    ("low", "low", 5),
]


def cells(matrix: dict[tuple[str, str], int]) -> list[dict]:
    return [{"impact": i, "urgency": u, "priority": p} for (i, u), p in matrix.items()]


def changed_matrix(**overrides: int) -> dict[tuple[str, str], int]:
    """The ITIL matrix with some cells changed: changed_matrix(medium_medium=1)."""
    matrix = dict(DEFAULT_MATRIX)
    for key, priority in overrides.items():
        impact, urgency = key.split("_")
        matrix[(impact, urgency)] = priority
    return matrix


def test_default_matrix_is_itil():
    assert {(i, u): p for i, u, p in ITIL} == DEFAULT_MATRIX
    assert services.priority_matrix() == DEFAULT_MATRIX


@pytest.mark.parametrize(("impact", "urgency", "priority"), ITIL, ids=[f"{i}-{u}" for i, u, _ in ITIL])
def test_ticket_create_derives_itil_priority(impact, urgency, priority, l1, customer):
    ticket = create(l1, customer, impact=impact, urgency=urgency)
    stored = fresh(ticket)
    assert stored.priority == priority
    assert stored.priority_label == PRIORITY_LABELS[priority]
    created = events_of(ticket, EventKind.CREATED)[0]
    assert created.data["after"]["priority"] == priority
    assert created.data["after"]["impact"] == impact and created.data["after"]["urgency"] == urgency


def test_ticket_create_defaults_to_medium_medium(customer):
    ticket = create(customer)
    assert (ticket.impact, ticket.urgency, ticket.priority) == ("medium", "medium", 3)


def test_ticket_create_uses_the_configured_matrix(manager, l1, customer):
    services.priority_matrix_update(actor=manager, cells=cells(changed_matrix(low_low=2)))
    ticket = create(l1, customer, impact=Level.LOW, urgency=Level.LOW)
    assert ticket.priority == 2


@pytest.mark.parametrize("role", ["manager", "admin_user"])
def test_managers_replace_the_matrix(role, request):
    actor = request.getfixturevalue(role)
    wanted = changed_matrix(medium_medium=1, low_low=4)
    result = services.priority_matrix_update(actor=actor, cells=cells(wanted))
    assert result == wanted
    assert services.priority_matrix() == wanted
    assert PriorityMatrixCell.objects.count() == 9


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3"])
def test_non_managers_cannot_change_the_matrix(role, request):
    with pytest.raises(NotAllowed):
        services.priority_matrix_update(actor=request.getfixturevalue(role), cells=cells(changed_matrix(low_low=1)))
    assert services.priority_matrix() == DEFAULT_MATRIX


def test_duplicate_cell_is_refused(manager):
    body = cells(changed_matrix(high_high=2))
    body.append({"impact": "high", "urgency": "high", "priority": 1})
    with pytest.raises(InvalidInput) as exc:
        services.priority_matrix_update(actor=manager, cells=body)
    assert "cells" in exc.value.detail
    assert "twice" in exc.value.detail["cells"][0]
    assert services.priority_matrix() == DEFAULT_MATRIX


def test_duplicate_replacing_a_cell_is_refused_even_with_nine_cells(manager):
    body = cells(changed_matrix(high_high=2))
    body[-1] = {"impact": "high", "urgency": "high", "priority": 1}  # low/low replaced by a second high/high
    assert len(body) == 9
    with pytest.raises(InvalidInput):
        services.priority_matrix_update(actor=manager, cells=body)
    assert services.priority_matrix() == DEFAULT_MATRIX


@pytest.mark.parametrize("drop", [1, 9])
def test_missing_cells_are_refused(drop, manager):
    body = cells(changed_matrix(high_high=2))[drop:]
    with pytest.raises(InvalidInput) as exc:
        services.priority_matrix_update(actor=manager, cells=body)
    assert "missing" in exc.value.detail["cells"][0]
    assert services.priority_matrix() == DEFAULT_MATRIX


def test_matrix_update_reprioritises_in_the_background(manager, l1, customer, django_capture_on_commit_callbacks):
    ticket = create(l1, customer, impact=Level.LOW, urgency=Level.LOW)
    with django_capture_on_commit_callbacks() as callbacks:
        services.priority_matrix_update(actor=manager, cells=cells(changed_matrix(low_low=3)))
    assert len(callbacks) == 1
    assert fresh(ticket).priority == 5  # nothing changes inside the request

    callbacks[0]()  # commit: the task runs (eagerly in tests)

    assert fresh(ticket).priority == 3
    event = events_of(ticket, EventKind.PRIORITY_CHANGED)[0]
    assert event.actor == manager
    assert event.data["before"] == {"priority": 5} and event.data["after"] == {"priority": 3}


@pytest.fixture
def mixed_tickets(l1, customer):
    """Tickets across cells and statuses, keyed by name."""

    def make(impact, urgency, status):
        return drive_to(create(l1, customer, impact=impact, urgency=urgency), status, l1)

    return {
        "mm_new": make("medium", "medium", Status.NEW),
        "mm_open": make("medium", "medium", Status.OPEN),
        "ll_pending": make("low", "low", Status.PENDING),
        "mm_resolved": make("medium", "medium", Status.RESOLVED),
        "ll_closed": make("low", "low", Status.CLOSED),
        "hh_new": make("high", "high", Status.NEW),
        "ml_open": make("medium", "low", Status.OPEN),
    }


@pytest.mark.parametrize("batch_size", [1000, 1])
def test_reprioritize_changes_exactly_active_tickets_in_changed_cells(batch_size, mixed_tickets, manager):
    services.priority_matrix_update(actor=manager, cells=cells(changed_matrix(medium_medium=1, low_low=4)))
    before = {name: (fresh(t).priority, fresh(t).version, len(events_of(t))) for name, t in mixed_tickets.items()}

    changed = services.tickets_reprioritize(actor=manager, batch_size=batch_size)

    assert changed == 3
    expected_new_priority = {"mm_new": 1, "mm_open": 1, "ll_pending": 4}
    for name, ticket in mixed_tickets.items():
        stored = fresh(ticket)
        old_priority, old_version, old_events = before[name]
        trail = events_of(ticket)
        if name in expected_new_priority:
            assert stored.priority == expected_new_priority[name], name
            assert stored.version == old_version + 1, name
            # The priority change, then the due times it moved.
            assert len(trail) == old_events + 2, name
            assert trail[-1].kind == EventKind.SLA_CHANGED and trail[-1].data["reason"] == "priority matrix changed"
            event = trail[-2]
            assert event.kind == EventKind.PRIORITY_CHANGED
            assert event.actor == manager
            assert event.data == {
                "before": {"priority": old_priority},
                "after": {"priority": expected_new_priority[name]},
                "reason": "priority matrix changed",
            }
        else:
            assert (stored.priority, stored.version, len(trail)) == before[name], name
    # Done tickets keep the priority they were worked with.
    assert fresh(mixed_tickets["mm_resolved"]).priority == 3
    assert fresh(mixed_tickets["ll_closed"]).priority == 5


def test_reprioritize_is_idempotent(mixed_tickets, manager):
    services.priority_matrix_update(actor=manager, cells=cells(changed_matrix(medium_medium=1)))
    assert services.tickets_reprioritize(actor=manager) == 2
    versions = {t.pk: fresh(t).version for t in mixed_tickets.values()}
    assert services.tickets_reprioritize(actor=manager) == 0
    assert {t.pk: fresh(t).version for t in mixed_tickets.values()} == versions
    assert sum(len(events_of(t, EventKind.PRIORITY_CHANGED)) for t in mixed_tickets.values()) == 2


def test_reprioritize_without_matrix_change_does_nothing(mixed_tickets):
    assert services.tickets_reprioritize() == 0
    assert not any(events_of(t, EventKind.PRIORITY_CHANGED) for t in mixed_tickets.values())


def test_reprioritize_by_the_system_has_no_actor(mixed_tickets, manager):
    services.priority_matrix_update(actor=manager, cells=cells(changed_matrix(high_high=2)))
    assert services.tickets_reprioritize(actor=None) == 1
    event = events_of(mixed_tickets["hh_new"], EventKind.PRIORITY_CHANGED)[0]
    assert event.actor is None
    assert Ticket.objects.get(pk=mixed_tickets["hh_new"].pk).priority == 2
