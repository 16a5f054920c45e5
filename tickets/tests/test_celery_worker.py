"""Background re-prioritisation through a real Celery worker and Redis, and the
in-process fallback when the broker is down (docs/DEPLOYMENT.md "What happens when the broker is down"; helpdesk.tasks.enqueue).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
from django.db import transaction

from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.testing.brokers import CLOSED_BROKER_URL, celery_broker
from helpdesk.testing.processes import process_stop
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import require_postgresql, start_worker
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.events import EventKind
from tickets.models import DEFAULT_MATRIX, Level, Status, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory

TASK_NAME = "tickets.reprioritize_open_tickets"
WAIT_SECONDS = 30

# The new matrix: three cells change, everything else stays ITIL.
CHANGED_CELLS = {
    (Level.MEDIUM, Level.MEDIUM): 1,  # was 3
    (Level.HIGH, Level.LOW): 2,  # was 3
    (Level.LOW, Level.HIGH): 5,  # was 3
}


def new_matrix() -> list[dict]:
    cells = {**DEFAULT_MATRIX, **CHANGED_CELLS}
    return [{"impact": i, "urgency": u, "priority": p} for (i, u), p in cells.items()]


@pytest.fixture
def tickets_at_priority_3(db):
    """Active tickets whose cell changes, plus done and unaffected ones that must not change."""
    requester = UserFactory(role=Role.CUSTOMER)
    make = TicketFactory
    return {
        "new": make(requester=requester, impact=Level.MEDIUM, urgency=Level.MEDIUM, priority=3),
        "open": make(requester=requester, impact=Level.HIGH, urgency=Level.LOW, priority=3, status=Status.OPEN),
        "pending": make(requester=requester, impact=Level.LOW, urgency=Level.HIGH, priority=3, status=Status.PENDING),
        "resolved": make(
            requester=requester, impact=Level.MEDIUM, urgency=Level.MEDIUM, priority=3, status=Status.RESOLVED
        ),
        "closed": make(requester=requester, impact=Level.HIGH, urgency=Level.LOW, priority=3, status=Status.CLOSED),
        "unchanged": make(requester=requester, impact=Level.HIGH, urgency=Level.HIGH, priority=1),
    }


EXPECTED_AFTER = {"new": 1, "open": 2, "pending": 5, "resolved": 3, "closed": 3, "unchanged": 1}


def priorities(tickets: dict[str, Ticket]) -> dict[str, int]:
    by_id = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets.values()]).values_list("id", "priority"))
    return {name: by_id[t.pk] for name, t in tickets.items()}


def assert_reprioritised_by(tickets: dict[str, Ticket], actor_id: int) -> None:
    assert priorities(tickets) == EXPECTED_AFTER
    events = TicketEvent.objects.filter(kind=EventKind.PRIORITY_CHANGED, ticket_id__in=[t.pk for t in tickets.values()])
    got = {e.ticket_id: (e.actor_id, e.data) for e in events}
    expected = {
        tickets[name].pk: (
            actor_id,
            {
                "before": {"priority": 3},
                "after": {"priority": EXPECTED_AFTER[name]},
                "reason": "priority matrix changed",
            },
        )
        for name in ("new", "open", "pending")
    }
    assert got == expected
    for name in ("new", "open", "pending"):
        assert Ticket.objects.get(pk=tickets[name].pk).version == tickets[name].version + 1


# --- a real worker -----------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db, redis_url, tmp_path):
    """A `celery -A helpdesk worker` process on the test database and a queue of its own."""
    require_postgresql()
    import redis

    queue = f"helpdesk-test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(broker_url=redis_url, queue=queue, log_path=tmp_path / "worker.log")
    try:
        yield worker
    finally:
        process_stop(worker.process)
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        finally:
            client.close()


def test_matrix_change_reprioritises_open_tickets_in_a_real_worker(
    celery_worker, redis_url, tickets_at_priority_3, monkeypatch
):
    import redis

    manager = UserFactory(role=Role.MANAGER)
    tickets = tickets_at_priority_3

    # The task must travel through Redis to the worker: no eager mode, no fallback.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", celery_worker.queue)

    def no_fallback(*args, **kwargs):
        raise AssertionError("enqueue fell back to running the task in-process")

    monkeypatch.setattr(celery_app.tasks[TASK_NAME], "apply", no_fallback)
    broker = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)

    with celery_broker(redis_url):
        with transaction.atomic():
            services.priority_matrix_update(actor=manager, cells=new_matrix())
            # Nothing is sent before the change is committed.
            assert broker.llen(celery_worker.queue) == 0
            assert priorities(tickets)["new"] == 3
        broker.close()

        done = re.compile(rf"Task {re.escape(TASK_NAME)}\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: 3\b")
        wait_until(
            lambda: priorities(tickets) == EXPECTED_AFTER and done.search(celery_worker.log()),
            "the re-prioritisation",
            WAIT_SECONDS,
            celery_worker.assert_alive,
            every=0.2,
            details=lambda: (
                f"priorities {priorities(tickets)}; worker log:\n{celery_worker.log()[-4000:]}"
            ),
        )

    assert_reprioritised_by(tickets, manager.pk)


# --- broker down ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_unreachable_broker_runs_the_task_in_process_and_the_request_succeeds(
    api, tickets_at_priority_3, monkeypatch, caplog
):
    manager = UserFactory(role=Role.MANAGER)
    tickets = tickets_at_priority_3
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    sent = []
    real_apply_async = celery_app.tasks[TASK_NAME].apply_async

    def spy_apply_async(*args, **kwargs):
        sent.append(kwargs)
        return real_apply_async(*args, **kwargs)

    monkeypatch.setattr(celery_app.tasks[TASK_NAME], "apply_async", spy_apply_async)

    with celery_broker(CLOSED_BROKER_URL), caplog.at_level(logging.WARNING, logger="helpdesk.tasks"):
        started = time.monotonic()
        response = api.as_(manager).put("/api/v1/priority-matrix/", {"cells": new_matrix()}, format="json")
        elapsed = time.monotonic() - started

    assert response.status_code == 200, response.content
    assert {(c["impact"], c["urgency"]): c["priority"] for c in response.data["cells"]} == {
        **DEFAULT_MATRIX,
        **CHANGED_CELLS,
    }
    assert len(sent) == 1, "the task was not sent to the broker first"
    assert any("broker unreachable" in r.getMessage() and TASK_NAME in r.getMessage() for r in caplog.records)
    assert elapsed < 15, f"the request waited {elapsed:.1f}s on a dead broker"
    # The follow-up was not lost: it already ran in the web process.
    assert_reprioritised_by(tickets, manager.pk)
