"""Status lifecycle and comments, tested on the services directly (docs/PRODUCT.md "Status lifecycle", "Comments and first response")."""

from __future__ import annotations

import itertools

import pytest

from helpdesk.errors import Conflict, InvalidInput, NotAllowed, StaleVersion
from tickets import services
from tickets.events import EventKind
from tickets.models import TRANSITIONS, Comment, Status
from tickets.tests.services_helpers import (
    create,
    drive_to,
    events_of,
    fresh,
    last_event,
)

pytestmark = pytest.mark.django_db

ALL_PAIRS = list(itertools.product(Status.values, Status.values))
ALLOWED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
REFUSED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


def _ids(pairs):
    return [f"{a}->{b}" for a, b in pairs]


def test_lifecycle_table_is_the_spec():
    # Guards the parametrisation below: 25 pairs, 9 allowed, exactly the lifecycle of docs/PRODUCT.md "Status lifecycle".
    assert len(ALL_PAIRS) == 25
    assert sorted(ALLOWED_PAIRS) == sorted(
        [
            ("new", "open"),
            ("new", "pending"),
            ("new", "resolved"),
            ("open", "pending"),
            ("open", "resolved"),
            ("pending", "open"),
            ("pending", "resolved"),
            ("resolved", "open"),
            ("resolved", "closed"),
        ]
    )


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS, ids=_ids(ALLOWED_PAIRS))
def test_allowed_transition_succeeds_and_is_recorded(source, target, l1, customer):
    ticket = drive_to(create(l1, customer), source, l1)
    version, n_events = ticket.version, len(events_of(ticket))

    result = services.ticket_transition(ticket=ticket.pk, actor=l1, status=target, resolution="Rebooted the router.")

    stored = fresh(ticket)
    assert result.status == stored.status == target
    assert stored.version == version + 1
    trail = events_of(ticket)
    assert len(trail) == n_events + 1
    event = trail[-1]
    assert event.kind == EventKind.STATUS_CHANGED
    assert event.actor == l1
    assert event.data["before"] == {"status": source}
    assert event.data["after"] == {"status": target}
    if target == Status.RESOLVED:
        assert stored.resolution == "Rebooted the router."
        assert stored.resolved_at is not None
        assert event.data["resolution"] == "Rebooted the router."
    else:
        assert "resolution" not in event.data


@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS, ids=_ids(REFUSED_PAIRS))
def test_refused_transition_is_a_conflict_listing_allowed_targets(source, target, l1, customer):
    ticket = drive_to(create(l1, customer), source, l1)
    version, n_events = ticket.version, len(events_of(ticket))

    with pytest.raises(Conflict) as exc:
        services.ticket_transition(ticket=ticket, actor=l1, status=target, resolution="Some resolution.")

    assert exc.value.status_code == 409
    assert exc.value.extra["allowed"] == sorted(TRANSITIONS[source])
    assert exc.value.extra["status"] == source
    stored = fresh(ticket)
    assert stored.status == source
    assert stored.version == version
    assert len(events_of(ticket)) == n_events


def test_closed_is_final(l1, customer):
    ticket = drive_to(create(l1, customer), Status.CLOSED, l1)
    for target in Status.values:
        with pytest.raises(Conflict) as exc:
            services.ticket_transition(ticket=ticket, actor=l1, status=target, resolution="x")
        assert exc.value.extra["allowed"] == []


def test_unknown_status_is_invalid_input(l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_transition(ticket=ticket, actor=l1, status="archived")
    assert "status" in exc.value.detail
    assert fresh(ticket).status == Status.NEW


@pytest.mark.parametrize("resolution", ["", "   \n\t"])
def test_resolving_needs_a_resolution(resolution, l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(InvalidInput) as exc:
        services.ticket_transition(ticket=ticket, actor=l1, status=Status.RESOLVED, resolution=resolution)
    assert "resolution" in exc.value.detail
    stored = fresh(ticket)
    assert stored.status == Status.NEW
    assert stored.resolved_at is None
    assert events_of(ticket, EventKind.STATUS_CHANGED) == []


def test_resolution_is_stripped(l1, customer):
    ticket = create(l1, customer)
    services.ticket_transition(ticket=ticket, actor=l1, status=Status.RESOLVED, resolution="  Cleared cache \n")
    assert fresh(ticket).resolution == "Cleared cache"


def test_resolved_and_closed_timestamps_set_and_cleared_on_reopen(l1, customer):
    ticket = create(l1, customer)
    assert ticket.resolved_at is None and ticket.closed_at is None

    ticket = services.ticket_transition(ticket=ticket, actor=l1, status=Status.RESOLVED, resolution="Done.")
    resolved_at = fresh(ticket).resolved_at
    assert resolved_at is not None
    assert fresh(ticket).closed_at is None

    services.ticket_transition(ticket=ticket, actor=l1, status=Status.OPEN)
    assert fresh(ticket).resolved_at is None

    services.ticket_transition(ticket=ticket, actor=l1, status=Status.RESOLVED, resolution="Done again.")
    again = fresh(ticket)
    assert again.resolved_at is not None and again.resolved_at >= resolved_at
    assert again.resolution == "Done again."

    services.ticket_transition(ticket=ticket, actor=l1, status=Status.CLOSED)
    closed = fresh(ticket)
    assert closed.closed_at is not None
    assert closed.closed_at >= closed.resolved_at
    assert closed.status == Status.CLOSED


def test_stale_expected_version_refuses_the_transition(l1, customer):
    ticket = create(l1, customer)
    with pytest.raises(StaleVersion):
        services.ticket_transition(ticket=ticket, actor=l1, status=Status.OPEN, expected_version=ticket.version + 1)
    assert fresh(ticket).status == Status.NEW
    services.ticket_transition(ticket=ticket, actor=l1, status=Status.OPEN, expected_version=ticket.version)
    assert fresh(ticket).status == Status.OPEN


def test_agent_cannot_move_a_ticket_of_a_higher_tier(l1, l2, customer):
    ticket = create(l1, customer, tier=2)
    with pytest.raises(NotAllowed):
        services.ticket_transition(ticket=ticket, actor=l1, status=Status.OPEN)
    services.ticket_transition(ticket=ticket, actor=l2, status=Status.OPEN)
    assert fresh(ticket).status == Status.OPEN


# --- customers --------------------------------------------------------------------


@pytest.mark.parametrize("target", [Status.OPEN, Status.CLOSED])
def test_customer_reopens_or_closes_own_resolved_ticket(target, l1, customer):
    ticket = drive_to(create(customer), Status.RESOLVED, l1)
    services.ticket_transition(ticket=ticket, actor=customer, status=target)
    assert fresh(ticket).status == target
    event = last_event(ticket)
    assert event.kind == EventKind.STATUS_CHANGED
    assert event.actor == customer
    assert event.data["before"] == {"status": "resolved"} and event.data["after"] == {"status": target}


@pytest.mark.parametrize("source", [Status.NEW, Status.OPEN, Status.PENDING, Status.CLOSED])
@pytest.mark.parametrize("target", [Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED])
def test_customer_cannot_move_own_ticket_unless_resolved(source, target, l1, customer):
    ticket = drive_to(create(customer), source, l1)
    with pytest.raises(NotAllowed):
        services.ticket_transition(ticket=ticket, actor=customer, status=target, resolution="I fixed it myself.")
    assert fresh(ticket).status == source


def test_customer_on_own_resolved_ticket_still_follows_the_lifecycle(l1, customer):
    ticket = drive_to(create(customer), Status.RESOLVED, l1)
    with pytest.raises(Conflict) as exc:
        services.ticket_transition(ticket=ticket, actor=customer, status=Status.PENDING)
    assert exc.value.extra["allowed"] == ["closed", "open"]


@pytest.mark.parametrize("target", [Status.OPEN, Status.CLOSED])
def test_customer_cannot_move_someone_elses_resolved_ticket(target, l1, customer, other_customer):
    ticket = drive_to(create(other_customer), Status.RESOLVED, l1)
    with pytest.raises(NotAllowed):
        services.ticket_transition(ticket=ticket, actor=customer, status=target)
    assert fresh(ticket).status == Status.RESOLVED


# --- comments ---------------------------------------------------------------------


def test_first_public_agent_comment_sets_first_responded_at(l1, l2, customer):
    ticket = create(customer)
    comment = services.comment_create(ticket=ticket, actor=l1, body="Looking into it.")
    stored = fresh(ticket)
    assert stored.first_responded_at == comment.created_at

    services.comment_create(ticket=ticket, actor=l2, body="Second answer.")
    assert fresh(ticket).first_responded_at == comment.created_at


def test_internal_agent_comment_does_not_count_as_first_response(l1, customer):
    ticket = create(customer)
    services.comment_create(ticket=ticket, actor=l1, body="Probably DNS.", internal=True)
    assert fresh(ticket).first_responded_at is None
    public = services.comment_create(ticket=ticket, actor=l1, body="We are on it.")
    assert fresh(ticket).first_responded_at == public.created_at


def test_requesters_own_comment_does_not_count_as_first_response(l1, customer):
    ticket = create(customer)
    services.comment_create(ticket=ticket, actor=customer, body="Any news?")
    assert fresh(ticket).first_responded_at is None


def test_agent_commenting_on_ticket_they_requested_is_no_first_response(l1):
    ticket = create(l1, requester=l1)
    services.comment_create(ticket=ticket, actor=l1, body="Note to self.")
    assert fresh(ticket).first_responded_at is None


def test_comment_bumps_version_and_records_event(l1, customer):
    ticket = create(customer)
    version = fresh(ticket).version
    comment = services.comment_create(ticket=ticket, actor=l1, body="  Try again now.  ", internal=True)
    assert comment.body == "Try again now."
    assert comment.internal is True and comment.author == l1
    assert fresh(ticket).version == version + 1
    event = last_event(ticket)
    assert event.kind == EventKind.COMMENTED
    assert event.actor == l1
    assert event.data == {"comment": comment.pk, "internal": True}


def test_any_agent_may_comment_on_any_tier(l1, customer):
    ticket = create(l1, customer, tier=3)
    comment = services.comment_create(ticket=ticket, actor=l1, body="Customer called again.")
    assert comment.pk is not None


@pytest.mark.parametrize("body", ["", "   "])
def test_blank_comment_is_invalid(body, l1, customer):
    ticket = create(customer)
    with pytest.raises(InvalidInput) as exc:
        services.comment_create(ticket=ticket, actor=l1, body=body)
    assert "body" in exc.value.detail
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_customer_cannot_write_internal_notes(customer):
    ticket = create(customer)
    with pytest.raises(InvalidInput) as exc:
        services.comment_create(ticket=ticket, actor=customer, body="secret", internal=True)
    assert "internal" in exc.value.detail
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_customer_cannot_comment_on_someone_elses_ticket(customer, other_customer):
    ticket = create(other_customer)
    with pytest.raises(NotAllowed):
        services.comment_create(ticket=ticket, actor=customer, body="Me too!")
    assert not Comment.objects.filter(ticket=ticket).exists()
    assert events_of(ticket, EventKind.COMMENTED) == []


@pytest.mark.parametrize("source", [Status.PENDING, Status.RESOLVED])
def test_customer_reply_reopens_pending_or_resolved(source, l1, customer):
    ticket = drive_to(create(customer), source, l1)
    services.comment_create(ticket=ticket, actor=customer, body="Still broken.")
    stored = fresh(ticket)
    assert stored.status == Status.OPEN
    assert stored.resolved_at is None
    kinds = [e.kind for e in events_of(ticket)][-2:]
    assert kinds == [EventKind.COMMENTED, EventKind.STATUS_CHANGED]
    event = last_event(ticket)
    assert event.actor == customer
    assert event.data["before"] == {"status": source} and event.data["after"] == {"status": "open"}


@pytest.mark.parametrize("source", [Status.NEW, Status.OPEN])
def test_customer_reply_leaves_new_and_open_alone(source, l1, customer):
    ticket = drive_to(create(customer), source, l1)
    services.comment_create(ticket=ticket, actor=customer, body="More details.")
    assert fresh(ticket).status == source
    assert last_event(ticket).kind == EventKind.COMMENTED


def test_agent_reply_does_not_reopen_pending(l1, customer):
    ticket = drive_to(create(customer), Status.PENDING, l1)
    services.comment_create(ticket=ticket, actor=l1, body="Waiting for your logs.")
    assert fresh(ticket).status == Status.PENDING


@pytest.mark.parametrize("who", ["customer", "l1"])
def test_closed_ticket_refuses_comments(who, request, l1, customer):
    ticket = drive_to(create(customer), Status.CLOSED, l1)
    with pytest.raises(Conflict):
        services.comment_create(ticket=ticket, actor=request.getfixturevalue(who), body="Hello?")
    assert not Comment.objects.filter(ticket=ticket).exists()
    assert fresh(ticket).status == Status.CLOSED
