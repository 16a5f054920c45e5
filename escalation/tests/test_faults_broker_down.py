"""Redis killed while the API takes writes: nothing is lost, the side effects run
exactly once after it returns (docs/RELIABILITY.md, "Broker and worker faults").

Real processes: a redis-server of the test's own (killed by pid, restarted on the
same port), a Celery worker with Django's file e-mail backend, a local webhook
receiver. The API runs in this process with ``task_always_eager`` off, so every
enqueue really talks to the dead broker.

Ticket create and comment enqueue nothing themselves; the side effects they
schedule are the escalation rules' (docs/PRODUCT.md "Escalation rules"): a tick during the outage fires a
rule with ``notify`` on every new ticket, and its outbox rows wait for the
broker. /readyz says 503 naming the broker meanwhile.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from escalation.engine import escalation_tick
from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.mail import emails_written
from helpdesk.testing.processes import process_stop
from helpdesk.testing.workers import OUTBOUND_ALLOW_LOOPBACK, require_postgresql, start_celery_worker
from helpdesk.tests.factories import UserFactory
from notifications.delivery import notifications_resend_due
from notifications.models import Channel, DeliveryStatus, Notification
from tickets.events import EventKind
from tickets.models import Comment, Ticket, TicketEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKETS = 250  # each gets one comment: 500 writes
MANAGER_EMAIL = "lead@example.com"


def test_writes_while_redis_is_down_are_kept_and_their_side_effects_run_once(
    private_redis, webhook_server, api, monkeypatch, settings, tmp_path, outbound_allow_loopback
):
    require_postgresql()
    receiver = webhook_server([200])
    WebhookEndpointFactory(url=receiver.url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    settings.HELPDESK_NOTIFY_DIGEST_AFTER = 10_000  # a row per ticket and recipient, no digest
    EscalationRule.objects.all().delete()  # the shipped rules would fire too
    UserFactory(role=Role.MANAGER, email=MANAGER_EMAIL)
    agent = UserFactory(role=Role.L1)
    customer = UserFactory(role=Role.CUSTOMER)
    rule = EscalationRuleFactory(
        name="Nobody took it",
        trigger=Trigger.UNASSIGNED_FOR,
        threshold=0,
        tiers=[1],
        notify=["role:manager", f"webhook:{receiver.url}"],
        note="Still unassigned: the engine noticed.",
    )
    client = api.as_(agent)
    figures: dict[str, object] = {}

    with celery_broker(private_redis.url):
        assert client.get("/readyz").status_code == 200
        private_redis.kill()

        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["broker"]
        assert ready.json()["checks"]["database"] == "ok"

        # 500 writes, ticket creations and comments interleaved, all through the API.
        started = time.monotonic()
        statuses: Counter = Counter()
        ticket_ids = []
        for i in range(TICKETS):
            created = client.post(
                "/api/v1/tickets/",
                {
                    "title": f"Outage write {i}",
                    "description": "Logged while the broker was down.",
                    "requester": customer.pk,
                    "urgency": ("high", "medium", "low")[i % 3],
                    "impact": ("low", "medium", "high")[i % 3],
                },
                format="json",
            )
            statuses[created.status_code] += 1
            assert created.status_code == 201, created.content
            ticket_ids.append(created.json()["id"])
            commented = client.post(
                f"/api/v1/tickets/{ticket_ids[-1]}/comments/",
                {"body": f"Called back ({i}).", "internal": i % 2 == 0},
                format="json",
            )
            statuses[commented.status_code] += 1
            assert commented.status_code == 201, commented.content
        figures["writes"] = sum(statuses.values())
        figures["write seconds"] = round(time.monotonic() - started, 1)
        assert statuses == {201: 2 * TICKETS}

        # All stored in PostgreSQL.
        assert Ticket.objects.filter(pk__in=ticket_ids).count() == TICKETS
        assert Comment.objects.filter(ticket_id__in=ticket_ids, internal=False).count() == TICKETS // 2
        assert Comment.objects.filter(ticket_id__in=ticket_ids).count() == TICKETS
        assert TicketEvent.objects.filter(kind=EventKind.CREATED).count() == TICKETS
        assert client.get("/readyz").status_code == 503

        # A tick during the outage (the engine ran on a worker that still had its
        # task): it commits, and its notifications wait in the outbox.
        assert escalation_tick().fired[rule.pk] == TICKETS
        outbox = Notification.objects.filter(rule_id=rule.pk)
        assert outbox.count() == 2 * TICKETS
        assert set(outbox.values_list("status", "attempts")) == {(DeliveryStatus.PENDING, 0)}
        assert notifications_resend_due() == 0  # the sweep cannot hand them over either
        time.sleep(0.5)
        assert receiver.count() == 0

        # The broker and a worker come back; the sweep (beat's job, every minute)
        # hands the rows over, the worker delivers them.
        private_redis.start()
        mail_dir = tmp_path / "mail"
        worker = start_celery_worker(
            broker_url=private_redis.url,
            log_path=tmp_path / "worker.log",
            name="faults-broker",
            concurrency=2,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
            HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW_LOOPBACK,  # the webhook receiver is on 127.0.0.1
        )
        try:
            started = time.monotonic()
            sweeps = 0
            pending = outbox.filter(status=DeliveryStatus.PENDING)
            while pending.exists():
                assert time.monotonic() - started < 90, f"{pending.count()} still pending\n{worker.log()[-3000:]}"
                worker.assert_alive()
                sweeps += 1
                notifications_resend_due()
                # The first sweeps may meet the connection that died with the old
                # server; beat would simply sweep again.
                deadline = time.monotonic() + 2
                while pending.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
            figures["delivery seconds"] = round(time.monotonic() - started, 1)
            figures["sweeps"] = sweeps
            assert client.get("/readyz").status_code == 200
            # Later sweeps find nothing due; nothing is sent again.
            assert notifications_resend_due() == 0
            time.sleep(1)
        finally:
            process_stop(worker.process)

    # Exactly once, per ticket and recipient.
    assert set(outbox.values_list("status", "attempts")) == {(DeliveryStatus.SENT, 1)}
    hooks = outbox.filter(channel=Channel.WEBHOOK)
    received = Counter(request.headers.get("X-Helpdesk-Notification") for request in receiver.requests)
    assert received == Counter({str(pk): 1 for pk in hooks.values_list("pk", flat=True)})
    assert sorted(hooks.values_list("ticket_id", flat=True)) == sorted(ticket_ids)
    mails = emails_written(mail_dir)
    subjects = outbox.filter(channel=Channel.EMAIL).values_list("subject", flat=True)
    expected = Counter({(MANAGER_EMAIL, subject): 1 for subject in subjects})
    assert len(expected) == TICKETS
    assert mails == expected
    # And the rule fired once per ticket: one firing, one event, one note.
    assert RuleFiring.objects.filter(rule=rule).count() == TICKETS
    for kind in (EventKind.RULE_FIRED,):
        assert Counter(TicketEvent.objects.filter(kind=kind).values_list("ticket_id", flat=True)) == Counter(
            dict.fromkeys(ticket_ids, 1)
        )
    assert Comment.objects.filter(body=rule.note).count() == TICKETS
    duplicates = sum(n - 1 for n in received.values()) + sum(n - 1 for n in mails.values())
    print(f"\nbroker-down figures: {figures}, duplicates {duplicates}")
