"""Mail arriving while the broker is unreachable (docs/RELIABILITY.md "Broker and
worker faults"): the inbound endpoint still stores the message, its ticket and the
acknowledgement's outbox row in one commit, and answers at once; nothing is lost.
Once a broker and a real Celery worker are there, the outbox sweep hands the row
over and the worker delivers it by SMTP to a real receiver, exactly once."""

from __future__ import annotations

import time

import pytest

from helpdesk.celery import app as celery_app
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.network import free_port
from helpdesk.testing.smtp import smtp_receiver
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import CeleryProcesses, require_postgresql
from mail.models import Direction, InboundMessage, Outcome, ThreadMessage
from mail.services.mailboxes import mailbox_create
from mail.tests.factories import raw_message
from notifications.delivery import notifications_resend_due
from notifications.models import DeliveryStatus, Notification
from tickets.models import Ticket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ADDRESS = "support@helpdesk.example"
JANE = "jane@customer.example"


def test_mail_posted_while_the_broker_is_down_is_stored_and_acknowledged_later(
    api, private_redis, monkeypatch, tmp_path
):
    require_postgresql()
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    mailbox, token = mailbox_create(name="Support", address=ADDRESS, kind="http")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    raw = raw_message(sender=f"Jane Doe <{JANE}>", to=ADDRESS, subject="Printer on fire")

    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        started = time.monotonic()
        response = api.post("/api/v1/mail/inbound/", data=raw, content_type="message/rfc822")
        elapsed = time.monotonic() - started
        assert response.status_code == 202, response.content
        assert response.json()["outcome"] == Outcome.CREATED
        assert elapsed < 10, f"the request waited {elapsed:.1f}s on a dead broker"
        assert notifications_resend_due() == 0  # the sweep cannot hand it over either

    ticket = Ticket.objects.get(pk=response.json()["ticket"])
    assert InboundMessage.objects.get().ticket_id == ticket.pk
    [row] = Notification.objects.all()
    assert (row.target, row.status, row.attempts) == (JANE, DeliveryStatus.PENDING, 0)
    stored = ThreadMessage.objects.get(ticket=ticket, direction=Direction.OUT)
    assert stored.notification_id == row.pk

    with smtp_receiver(tmp_path / "smtp") as receiver, celery_broker(private_redis.url):
        processes = CeleryProcesses(
            private_redis.url, tmp_path, {"EMAIL_HOST": receiver.host, "EMAIL_PORT": str(receiver.port)}
        )
        try:
            worker = processes.worker("mailer")
            assert notifications_resend_due() == 1  # what beat's sweep does every minute
            [ack] = receiver.wait_for(1, seconds=20)
            worker.assert_alive()
            wait_until(lambda: Notification.objects.get(pk=row.pk).status == DeliveryStatus.SENT, "the row sent", 20)
            assert notifications_resend_due() == 0
            time.sleep(0.5)
        finally:
            processes.stop()
    assert len(receiver.messages()) == 1
    assert ack.rcpt_tos == [JANE]
    assert str(ack.message["Subject"]) == f"[{ticket.number}] Printer on fire"
    assert str(ack.message["Message-ID"]) == f"<{stored.message_id}>"
    assert str(ack.message["Auto-Submitted"]) == "auto-replied"
