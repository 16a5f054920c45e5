"""Claims under real concurrency (docs/PRODUCT.md "Next ticket"): "next ticket" hands every ticket out
exactly once, and a contested claim has exactly one winner. Known-issue applies
count every use once.

Each thread has its own database connection, so these tests exercise
PostgreSQL's row locks (``SELECT ... FOR UPDATE SKIP LOCKED``) for real.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk.errors import Conflict
from helpdesk.roles import Role
from helpdesk.testing.threads import run_in_threads
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.events import EventKind
from tickets.models import Comment, KnownIssueLink, Status, Ticket, TicketEvent
from tickets.tests.factories import KnownIssueFactory, TicketFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"needs PostgreSQL row locks across connections; the test database is {connection.vendor}",
    ),
    pytest.mark.django_db(transaction=True),
]

THREAD_TIMEOUT = 60  # seconds; a thread still alive after this means a hang


def _queue_key(ticket: Ticket) -> tuple:
    """The order "next ticket" hands tickets out in: priority, due time (none last), id."""
    due = ticket.resolution_due_at
    return (ticket.priority, due is None, due, ticket.pk)


@pytest.mark.parametrize("via", ["api", "service"])
def test_next_ticket_hands_each_ticket_out_exactly_once(via):
    requester = UserFactory(role=Role.CUSTOMER)
    now = timezone.now()
    queue = [
        TicketFactory(
            requester=requester,
            tier=1,
            priority=1 + i % 5,
            resolution_due_at=now + timedelta(minutes=(i * 37) % 500) if i % 3 else None,
        )
        for i in range(200)
    ]
    # Tickets that are not in the tier-1 queue must never be handed out.
    holder = UserFactory(role=Role.L1)
    outside = [
        TicketFactory(requester=requester, tier=2, priority=1),
        TicketFactory(requester=requester, tier=1, priority=1, assignee=holder, status=Status.OPEN),
        TicketFactory(requester=requester, tier=1, priority=1, status=Status.PENDING),
        TicketFactory(requester=requester, tier=1, priority=1, status=Status.RESOLVED),
    ]
    agents = [UserFactory(role=Role.L1) for _ in range(8)]
    claims: dict[int, list[int]] = {agent.pk: [] for agent in agents}
    max_calls = len(queue) + 2  # a thread looping longer than this never saw an empty queue

    def claim_until_empty(index: int) -> None:
        agent = agents[index]
        client = APIClient()  # one client per thread, authenticated as this thread's agent
        client.force_authenticate(user=agent)
        for _ in range(max_calls):
            if via == "api":
                response = client.post("/api/v1/tickets/next/", {}, format="json")
                if response.status_code == 204:
                    return
                assert response.status_code == 200, (response.status_code, response.content)
                assert response.data["assignee"] == agent.pk, response.data
                claims[agent.pk].append(response.data["id"])
            else:
                ticket = services.next_ticket_claim(actor=agent)
                if ticket is None:
                    return
                assert ticket.assignee_id == agent.pk
                claims[agent.pk].append(ticket.pk)
        raise AssertionError(f"agent {agent.pk} never got an empty queue after {max_calls} claims")

    run_in_threads(len(agents), claim_until_empty)

    handed_out = [tid for ids in claims.values() for tid in ids]
    duplicates = [tid for tid, n in Counter(handed_out).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} tickets handed out more than once, e.g. {duplicates[:10]}"
    assert sorted(handed_out) == sorted(t.pk for t in queue)
    assert sum(1 for ids in claims.values() if ids) >= 2, "claims did not run concurrently"

    tickets = Ticket.objects.in_bulk([t.pk for t in queue])
    for agent_id, ids in claims.items():
        for tid in ids:
            assert tickets[tid].assignee_id == agent_id
            assert tickets[tid].status == Status.OPEN  # claiming a new ticket opens it
        # Every agent got its tickets best first (priority, then due time, then id).
        keys = [_queue_key(tickets[tid]) for tid in ids]
        assert keys == sorted(keys), f"agent {agent_id} got tickets out of queue order"

    assigned = TicketEvent.objects.filter(kind=EventKind.ASSIGNED, ticket_id__in=tickets)
    assert assigned.count() == len(queue)
    per_ticket = Counter(assigned.values_list("ticket_id", flat=True))
    assert set(per_ticket.values()) == {1}
    for event in assigned:
        assert event.actor_id == tickets[event.ticket_id].assignee_id
        assert event.data == {"before": {"assignee": None}, "after": {"assignee": event.actor_id}}

    for ticket in outside:
        before = ticket.assignee_id
        ticket.refresh_from_db()
        assert ticket.assignee_id == before
    assert not TicketEvent.objects.filter(ticket__in=outside).exists()


def test_twenty_agents_claiming_the_same_ticket_have_one_winner():
    ticket = TicketFactory(tier=1, priority=2)
    agents = [UserFactory(role=Role.L1) for _ in range(20)]
    winners: list[int] = []
    conflicts: list[Conflict] = []

    def claim(index: int) -> None:
        agent = agents[index]
        try:
            claimed = services.ticket_claim(ticket=ticket.pk, actor=agent)
        except Conflict as exc:
            conflicts.append(exc)
            return
        assert claimed.assignee_id == agent.pk
        winners.append(agent.pk)

    run_in_threads(len(agents), claim)

    assert len(winners) == 1, winners
    assert len(conflicts) == len(agents) - 1
    winner = winners[0]
    assert all(exc.status_code == 409 and exc.extra == {"assignee": winner} for exc in conflicts)

    ticket.refresh_from_db()
    assert ticket.assignee_id == winner
    assert ticket.status == Status.OPEN
    assert ticket.version == 3  # one assignment + one status change, nothing more
    kinds = Counter(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == {EventKind.ASSIGNED: 1, EventKind.STATUS_CHANGED: 1}
    assert TicketEvent.objects.get(ticket=ticket, kind=EventKind.ASSIGNED).actor_id == winner


def test_concurrent_applies_of_one_known_issue_count_every_ticket():
    """usage_count is incremented with F(): applies on different tickets never lose a count."""
    known_issue = KnownIssueFactory()
    tickets = TicketFactory.create_batch(12, tier=1)
    agents = [UserFactory(role=Role.L1) for _ in tickets]

    def apply(index: int) -> None:
        services.known_issue_apply(ticket=tickets[index].pk, actor=agents[index], known_issue=known_issue.pk)

    run_in_threads(len(tickets), apply)

    known_issue.refresh_from_db()
    assert known_issue.usage_count == len(tickets)
    assert KnownIssueLink.objects.filter(known_issue=known_issue).count() == len(tickets)


def test_concurrent_applies_to_one_ticket_have_one_winner():
    known_issue = KnownIssueFactory()
    ticket = TicketFactory(tier=1)
    agents = [UserFactory(role=Role.L1) for _ in range(10)]
    winners: list[int] = []
    conflicts: list[Conflict] = []

    def apply(index: int) -> None:
        try:
            services.known_issue_apply(ticket=ticket.pk, actor=agents[index], known_issue=known_issue.pk, resolve=True)
        except Conflict as exc:
            conflicts.append(exc)
            return
        winners.append(agents[index].pk)

    run_in_threads(len(agents), apply)

    assert len(winners) == 1 and len(conflicts) == len(agents) - 1
    known_issue.refresh_from_db()
    assert known_issue.usage_count == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.resolution == known_issue.resolution_steps
    assert Comment.objects.filter(ticket=ticket).count() == 1
    kinds = Counter(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == {EventKind.COMMENTED: 1, EventKind.KNOWN_ISSUE_APPLIED: 1, EventKind.STATUS_CHANGED: 1}


CLAIMERS = 50
ROUNDS = 100


def test_fifty_agents_claiming_one_ticket_have_one_winner_in_every_round():
    """50 threads race for one ticket, 100 times over. The threads (and their 50
    database connections) live across rounds; a barrier starts each round."""
    tickets = [TicketFactory(tier=1, priority=2).pk for _ in range(ROUNDS)]
    agents = [UserFactory(role=Role.L1) for _ in range(CLAIMERS)]
    start = threading.Barrier(CLAIMERS + 1, timeout=THREAD_TIMEOUT)
    finish = threading.Barrier(CLAIMERS + 1, timeout=THREAD_TIMEOUT)
    outcomes: list[list[tuple[int, str]]] = [[] for _ in range(ROUNDS)]
    errors: list[BaseException] = []

    def claimer(index: int) -> None:
        agent = agents[index]
        try:
            for round_ in range(ROUNDS):
                start.wait()
                try:
                    services.ticket_claim(ticket=tickets[round_], actor=agent)
                    outcomes[round_].append((agent.pk, "won"))
                except Conflict:
                    outcomes[round_].append((agent.pk, "conflict"))
                except BaseException as exc:
                    errors.append(exc)
                finish.wait()
        except threading.BrokenBarrierError as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(i,), daemon=True) for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for _ in range(ROUNDS):
        start.wait()
        finish.wait()
    for thread in threads:
        thread.join(timeout=THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors[0]

    stored = Ticket.objects.in_bulk(tickets)
    for round_, results in enumerate(outcomes):
        winners = [agent for agent, result in results if result == "won"]
        assert len(results) == CLAIMERS
        assert len(winners) == 1, f"round {round_}: {len(winners)} winners"
        assert stored[tickets[round_]].assignee_id == winners[0]
        assert stored[tickets[round_]].version == 3
    assigned = Counter(
        TicketEvent.objects.filter(ticket_id__in=tickets, kind=EventKind.ASSIGNED).values_list("ticket_id", flat=True)
    )
    assert assigned == {pk: 1 for pk in tickets}
