"""The outbox survives a broker outage, with real processes: a redis-server of the
test's own, a Celery worker on the test database, a local webhook receiver.

The broker goes down, a change commits with a notification (the commit succeeds,
nothing is delivered inline, the row stays pending), the broker comes back, the
sweep hands the row over and the worker delivers it exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import transaction

from escalation.notify import notifications_create
from escalation.tests.factories import WebhookEndpointFactory
from helpdesk.celery import app as celery_app
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.processes import process_stop
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import OUTBOUND_ALLOW_LOOPBACK, Worker, require_postgresql, start_worker
from notifications.delivery import notifications_resend_due
from notifications.models import DeliveryStatus, Notification
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.slow

DELIVER_TASK = "escalation.deliver_notifications"
WAIT_SECONDS = 30


@pytest.fixture
def outbox_worker(transactional_db, private_redis, tmp_path) -> Iterator[Worker]:
    """`celery -A helpdesk worker` on the test database, consuming a queue of its own from `private_redis`."""
    require_postgresql()
    queue = f"helpdesk-test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(
        broker_url=private_redis.url,
        queue=queue,
        log_path=tmp_path / "worker.log",
        HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW_LOOPBACK,  # the webhook receiver is on 127.0.0.1
    )
    try:
        wait_until(lambda: " ready." in worker.log(), "the worker starting", check=worker.assert_alive)
        yield worker
    finally:
        process_stop(worker.process)


def state(pk: int) -> tuple[str, int]:
    notification = Notification.objects.get(pk=pk)
    return notification.status, notification.attempts


@pytest.mark.django_db(transaction=True)
def test_broker_outage_the_sweep_delivers_exactly_once(outbox_worker, private_redis, webhook_server, monkeypatch):
    server = webhook_server([200])
    WebhookEndpointFactory(url=server.url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "task_default_queue", outbox_worker.queue)
    task = celery_app.tasks[DELIVER_TASK]

    def no_inline(*args, **kwargs):
        raise AssertionError("delivery ran in the web process")

    monkeypatch.setattr(task, "apply", no_inline)
    ticket = TicketFactory()

    def notify() -> int:
        with transaction.atomic():
            [pk] = notifications_create(
                specs=[f"webhook:{server.url}"], tickets=[ticket], subject="[{number}] overdue", body="b", payload={}
            )
        return pk

    def received(pk: int) -> int:
        return sum(r.headers.get("X-Helpdesk-Notification") == str(pk) for r in server.requests)

    with celery_broker(private_redis.url):
        # The broker is up: delivered by the worker after commit (this also warms the connection pool).
        first = notify()
        wait_until(lambda: state(first) == ("sent", 1), "the first notification sent", check=outbox_worker.assert_alive)
        assert received(first) == 1

        private_redis.kill()
        started = time.monotonic()
        second = notify()  # commits, raises nothing
        elapsed = time.monotonic() - started
        assert elapsed < 10, f"the commit waited {elapsed:.1f}s on a dead broker"
        assert state(second) == (DeliveryStatus.PENDING, 0)
        assert notifications_resend_due() == 0  # the sweep cannot hand it over either
        time.sleep(0.5)
        assert received(second) == 0

        private_redis.start()
        deadline = time.monotonic() + WAIT_SECONDS
        # The web process's pooled connection died with the old server; a sweep may
        # need a second tick to get through, like beat would give it.
        while notifications_resend_due() != 1:
            assert time.monotonic() < deadline, "the sweep never reached the restarted broker"
            time.sleep(1)
        wait_until(
            lambda: state(second) == ("sent", 1), "the second notification sent", check=outbox_worker.assert_alive
        )

        # More sweeps find nothing due, and nothing is sent again.
        assert notifications_resend_due() == 0
        time.sleep(1)

    assert received(first) == 1
    assert received(second) == 1
    assert server.count() == 2
    assert Notification.objects.get(pk=second).sent_at is not None
