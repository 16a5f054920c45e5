"""kill -9 of Celery workers in the middle of 1,000 rule firings (docs/RELIABILITY.md,
"Broker and worker faults").

Real processes: a redis-server of the test's own, Celery beat ticking the engine
every 2 s, and prefork workers. While a tick is firing the rule batch by batch,
the test SIGKILLs the worker's pool child and its parent by pid, checks that no
ticket is half-done, starts a new worker, and so on; the last worker finishes.
Every ticket must end up fired exactly once with every action, and every
notification delivered exactly once.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.tests.due import first_response_overdue
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.mail import emails_written
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import (
    OUTBOUND_ALLOW_LOOPBACK,
    celery_processes,
    kill_worker,
    require_postgresql,
)
from helpdesk.tests.factories import UserFactory
from notifications.delivery import notifications_resend_due
from notifications.models import Channel, DeliveryStatus, Notification
from tickets.events import EventKind
from tickets.models import Comment, Ticket, TicketEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKETS = 1000
BATCH = 10  # tickets per transaction in the workers: a kill lands between many commits
KILL_AT = (0.10, 0.50)  # kill once the firings pass each share of the tickets
NOTE = "Late first answer: moved to tier 2 by the engine."
MANAGER_EMAIL = "lead@example.com"
ONCALL_EMAIL = "oncall@example.com"


def per_ticket(kind: str) -> Counter:
    return Counter(TicketEvent.objects.filter(kind=kind).values_list("ticket_id", flat=True))


def assert_no_partial_tickets(rule: EscalationRule, ids: set[int]) -> int:
    """A ticket has either every effect of the firing, once, or none. Returns how many fired."""
    fired = set(RuleFiring.objects.filter(rule=rule).values_list("ticket_id", flat=True))
    assert len(fired) == RuleFiring.objects.filter(rule=rule).count()
    for kind in (EventKind.RULE_FIRED, EventKind.ESCALATED):
        counted = per_ticket(kind)
        assert set(counted) == fired and set(counted.values()) <= {1}, kind
    notes = Counter(Comment.objects.filter(body=NOTE).values_list("ticket_id", flat=True))
    assert set(notes) == fired and set(notes.values()) <= {1}
    tiers = dict(Ticket.objects.values_list("pk", "tier"))
    assert {pk for pk in ids if tiers[pk] == 2} == fired
    rows = Counter(Notification.objects.filter(rule_id=rule.pk).values_list("ticket_id", flat=True))
    assert set(rows) == fired and set(rows.values()) <= {3}
    return len(fired)


def test_workers_killed_mid_tick_fire_every_ticket_exactly_once(private_redis, webhook_server, monkeypatch, tmp_path):
    require_postgresql()
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)  # the sweep below sends, never delivers here
    receiver = webhook_server([200])
    WebhookEndpointFactory(url=receiver.url)
    EscalationRule.objects.all().delete()  # the shipped rules would fire too
    UserFactory(role=Role.MANAGER, email=MANAGER_EMAIL)
    ids = first_response_overdue(TICKETS)
    rule = EscalationRuleFactory(
        name="Late first answer",
        trigger=Trigger.FIRST_RESPONSE_OVERDUE,
        tiers=[1],  # one firing row per ticket: the escalated ticket leaves the rule's tiers
        escalate_to_tier=2,
        notify=["role:manager", f"email:{ONCALL_EMAIL}", f"webhook:{receiver.url}"],
        note=NOTE,
    )
    firings = RuleFiring.objects.filter(rule=rule)
    mail_dir = tmp_path / "mail"
    env = {
        "HELPDESK_ESCALATION_TICK_SECONDS": "2",
        "HELPDESK_ESCALATION_BATCH_SIZE": str(BATCH),
        "HELPDESK_NOTIFY_DIGEST_AFTER": "100000",  # a row per ticket and recipient
        "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        "HELPDESK_OUTBOUND_ALLOW": OUTBOUND_ALLOW_LOOPBACK,  # the webhook receiver is on 127.0.0.1
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    figures: dict[str, object] = {"kills": []}
    started = time.monotonic()
    with celery_processes(broker_url=private_redis.url, directory=tmp_path, **env) as celery:
        for round_, share in enumerate(KILL_AT):
            # concurrency=1: the pool child runs the tick and nothing else while it does,
            # so the kill always lands inside the tick.
            worker = celery.worker(f"kill{round_}")
            wait_until(
                lambda share=share: firings.count() >= share * TICKETS,
                f"{share:.0%} of the tickets fired",
                120,
                check=worker.assert_alive,
            )
            at = firings.count()
            assert at < 0.9 * TICKETS, f"the tick ran too fast to be killed in the middle ({at} fired)"
            killed = kill_worker(worker)
            # Batches are transactions: whatever the kill interrupted is rolled back whole.
            fired = assert_no_partial_tickets(rule, ids)
            assert fired % BATCH == 0 or fired == TICKETS
            figures["kills"].append({"pids": len(killed), "fired at kill": fired})

        last = celery.worker("last", concurrency=2)
        wait_until(lambda: firings.count() == TICKETS, "every ticket fired", 180, check=last.assert_alive)
        figures["firing seconds"] = round(time.monotonic() - started, 1)

        # Deliveries the killed workers had prefetched stay unacked in Redis (until the
        # visibility timeout, an hour); the outbox sweep hands their rows over again.
        outbox = Notification.objects.filter(rule_id=rule.pk)
        pending = outbox.filter(status=DeliveryStatus.PENDING)
        with celery_broker(private_redis.url):
            figures["pending when all had fired"] = pending.count()
            deadline = time.monotonic() + 180
            while pending.exists():
                assert time.monotonic() < deadline, f"{pending.count()} notifications still pending"
                last.assert_alive()
                notifications_resend_due()
                wait = time.monotonic() + 3  # beat would sweep again a minute later
                while pending.exists() and time.monotonic() < wait:
                    time.sleep(0.2)
            assert notifications_resend_due() == 0
        time.sleep(4)  # two more ticks: nothing fires again
        figures["total seconds"] = round(time.monotonic() - started, 1)

    assert assert_no_partial_tickets(rule, ids) == TICKETS
    assert set(firings.values_list("ticket_id", flat=True)) == ids
    assert set(Ticket.objects.values_list("tier", "assignee", "episode")) == {(2, None, 2)}
    assert per_ticket(EventKind.RULE_FIRED) == Counter(dict.fromkeys(ids, 1))
    assert per_ticket(EventKind.ESCALATED) == Counter(dict.fromkeys(ids, 1))

    # Notifications: one row per ticket and recipient, each sent once.
    assert outbox.count() == 3 * TICKETS
    assert set(outbox.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(outbox.values_list("attempts", flat=True)) == {1}
    recipients = Counter(outbox.values_list("ticket_id", "target"))
    assert set(recipients.values()) == {1} and len(recipients) == 3 * TICKETS
    received = Counter(request.headers.get("X-Helpdesk-Notification") for request in receiver.requests)
    hook_ids = outbox.filter(channel=Channel.WEBHOOK).values_list("pk", flat=True)
    assert received == Counter({str(pk): 1 for pk in hook_ids})
    mails = emails_written(mail_dir)
    expected = Counter(outbox.filter(channel=Channel.EMAIL).values_list("target", "subject"))
    assert len(expected) == 2 * TICKETS and set(expected.values()) == {1}
    assert mails == expected
    duplicates = sum(n - 1 for n in received.values()) + sum(n - 1 for n in mails.values())
    print(f"\nworker-kill figures: {figures}, duplicates {duplicates}")
