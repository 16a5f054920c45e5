"""The outbox itself: writing rows and enqueueing them after commit, delivery,
backoff, the sweep, the tasks and the admin (escalation's tests cover what rules
write: notify specs, placeholders, digests)."""

from __future__ import annotations

import datetime
import logging
import time

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.testing.brokers import CLOSED_BROKER_URL, celery_broker
from helpdesk.tests.factories import UserFactory
from notifications import delivery, outbox
from notifications.delivery import notification_deliver, notifications_resend_due
from notifications.models import Channel, DeliveryStatus, Notification
from notifications.outbox import OutboxRow, notifications_insert
from notifications.tasks import deliver_notifications
from tickets.events import EventKind
from tickets.models import Ticket, TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

DELIVER_TASK = "escalation.deliver_notifications"


def row(target: str, ticket: Ticket | None = None, **fields) -> OutboxRow:
    values = {"subject": "s", "body": "b", "payload": {}, **fields}
    return OutboxRow(Channel.EMAIL, target, ticket_id=ticket.pk if ticket else None, **values)


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def test_delivery_is_enqueued_after_commit_in_batches_of_at_most_100(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda name, **kwargs: sent.append((name, kwargs)) or True)
    targets = [f"user{i}@example.com" for i in range(250)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            ids = notifications_insert(rows=[row(target) for target in targets])
            assert sent == []
    assert len(callbacks) == 1
    assert [len(kwargs["notification_ids"]) for _, kwargs in sent] == [100, 100, 50]
    assert all(name == DELIVER_TASK and kwargs["fallback"] is False for name, kwargs in sent)
    assert [pk for _, kwargs in sent for pk in kwargs["notification_ids"]] == ids


def test_rows_written_in_many_calls_of_one_transaction_go_out_together(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    """1,000 comments in one transaction write 1,000 rows one call at a time: the
    workers get batches of 100, not a task per row."""
    sent: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda name, **kwargs: sent.append(kwargs["notification_ids"]) or True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            ids = [notifications_insert(rows=[row(f"user{i}@example.com")])[0] for i in range(150)]
            assert sent == []
    assert len(callbacks) == 1
    assert sent == [ids[:100], ids[100:]]


def test_a_savepoint_rolled_back_takes_its_rows_and_later_rows_still_go(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda name, **kwargs: sent.append(kwargs["notification_ids"]) or True)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                notifications_insert(rows=[row("gone@example.com")])
                raise RuntimeError("rolled back")
            kept = notifications_insert(rows=[row("kept@example.com")])
            later = notifications_insert(rows=[row("later@example.com")])
    assert sent == [kept + later]
    assert Notification.objects.filter(target="gone@example.com").count() == 0


class CountingBackend(BaseEmailBackend):
    """A mail server that counts its connections and drops one for a chosen recipient."""

    opened = 0
    drop_for = ""
    messages: list = []

    def open(self):
        if getattr(self, "is_open", False):
            return False
        self.is_open = True
        CountingBackend.opened += 1
        return True

    def close(self):
        self.is_open = False

    def send_messages(self, email_messages):
        created = self.open()
        try:
            for message in email_messages:
                if self.drop_for in message.to:
                    raise ConnectionResetError(104, "Connection reset by peer")
                CountingBackend.messages.append(message)
        finally:
            if created:
                self.close()
        return len(email_messages)


@pytest.fixture
def counting_backend(settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.opened, CountingBackend.drop_for, CountingBackend.messages = 0, "", []
    return CountingBackend


def test_a_delivery_batch_shares_one_mail_connection(counting_backend):
    ids = notifications_insert(rows=[row(f"user{i}@example.com") for i in range(5)])
    assert deliver_notifications(ids) == {"sent": 5}
    assert counting_backend.opened == 1
    assert [m.to for m in counting_backend.messages] == [[f"user{i}@example.com"] for i in range(5)]


def test_a_dropped_connection_costs_one_row_one_attempt_and_the_next_row_reconnects(counting_backend):
    counting_backend.drop_for = "user1@example.com"
    ids = notifications_insert(rows=[row(f"user{i}@example.com") for i in range(3)])
    assert deliver_notifications(ids) == {"sent": 2, "pending": 1}
    assert counting_backend.opened == 2
    assert Notification.objects.get(pk=ids[1]).attempts == 1
    assert Notification.objects.get(pk=ids[1]).last_error.startswith("ConnectionResetError")
    assert [m.to for m in counting_backend.messages] == [["user0@example.com"], ["user2@example.com"]]


def test_a_single_send_outside_a_batch_opens_and_closes_its_own_connection(counting_backend):
    [pk] = notifications_insert(rows=[row("solo@example.com")])
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert counting_backend.opened == 1


def test_unknown_id_is_reported_missing(db):
    assert notification_deliver(notification_id=987654) == delivery.MISSING
    assert deliver_notifications([987654]) == {"missing": 1}


def test_broker_down_at_commit_leaves_rows_pending_for_the_sweep(
    db, mailoutbox, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)

    task = celery_app.tasks[DELIVER_TASK]
    real_apply = task.apply
    broker_down = True

    def no_inline(*args, **kwargs):
        assert not broker_down, "delivery ran inside the request"
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(task, "apply", no_inline)
    ticket = TicketFactory()
    with celery_broker(CLOSED_BROKER_URL), caplog.at_level(logging.WARNING, logger="helpdesk.tasks"):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                [pk] = notifications_insert(rows=[row("ops@example.com", ticket)])
        elapsed = time.monotonic() - started
        assert notifications_resend_due() == 0  # still down: nothing handed over, nothing raised

    assert elapsed < 10, f"the commit waited {elapsed:.1f}s on a dead broker"
    assert any("left for the sweep" in r.getMessage() for r in caplog.records)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 0)
    assert mailoutbox == []

    # The broker is back (eager here): the sweep delivers it.
    broker_down = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    assert notifications_resend_due() == 1
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=pk).status == DeliveryStatus.SENT


def test_backoff_doubles_from_30_seconds():
    delays = [delivery.retry_delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 480, 960]
    assert delivery.retry_delay(50).total_seconds() == 3600


def test_email_failures_back_off_then_fail_with_a_ticket_event(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.HELPDESK_NOTIFY_MAX_ATTEMPTS = 3
    ticket = TicketFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                [pk] = notifications_insert(rows=[row("ops@example.com", ticket)])
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
        assert notification.next_attempt_at == start + datetime.timedelta(seconds=30)
        assert "Connection refused" in notification.last_error

        # Not due yet: a duplicate message does not spend an attempt.
        assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
        assert notifications_resend_due() == 0
        assert Notification.objects.get(pk=pk).attempts == 1

        clock.shift(30)
        assert notifications_resend_due() == 1
        notification = Notification.objects.get(pk=pk)
        assert notification.attempts == 2
        assert notification.next_attempt_at == start + datetime.timedelta(seconds=30 + 60)

        clock.shift(60)
        assert notifications_resend_due() == 1
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts) == (DeliveryStatus.FAILED, 3)

        clock.shift(3600)
        assert notifications_resend_due() == 0
        assert notification_deliver(notification_id=pk) == DeliveryStatus.FAILED

    [event] = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION_FAILED)
    assert event.actor_id is None
    assert event.data == {
        "notification": pk,
        "channel": "email",
        "target": "ops@example.com",
        "attempts": 3,
        "error": notification.last_error,
    }


def test_the_sweep_takes_the_oldest_due_first_up_to_the_limit(db, monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", lambda name, **kwargs: sent.append(kwargs["notification_ids"]) or True)
    now = timezone.now()
    ticket = TicketFactory()

    def due_row(minutes_ago: int, status: str = DeliveryStatus.PENDING) -> int:
        return Notification.objects.create(
            channel=Channel.EMAIL,
            target="a@example.com",
            subject="s",
            ticket=ticket,
            status=status,
            next_attempt_at=now - datetime.timedelta(minutes=minutes_ago),
        ).pk

    newer, older, oldest = due_row(1), due_row(5), due_row(10)
    due_row(-5)  # not due
    due_row(20, DeliveryStatus.SENT)
    due_row(20, DeliveryStatus.FAILED)
    assert notifications_resend_due(now=now, limit=2) == 2
    assert sent == [[oldest, older]]
    sent.clear()
    assert notifications_resend_due(now=now) == 3
    assert sent == [[oldest, older, newer]]


def failed_notification(**extra) -> Notification:
    fields = {
        "channel": Channel.EMAIL,
        "target": "ops@example.com",
        "subject": "Overdue",
        "body": "b",
        "status": DeliveryStatus.FAILED,
        "attempts": 5,
        "last_error": "SMTP down",
        "next_attempt_at": timezone.now() - datetime.timedelta(hours=1),
    }
    return Notification.objects.create(ticket=TicketFactory(), **{**fields, **extra})


def test_admin_lists_and_filters_notifications(admin_client):
    failed_notification()
    for query in ("", "?status__exact=failed", "?channel__exact=webhook"):
        response = admin_client.get(f"/admin/notifications/notification/{query}")
        assert response.status_code == 200
    assert b"ops@example.com" in admin_client.get("/admin/notifications/notification/?status__exact=failed").content


def test_admin_notifications_are_read_only(admin_client):
    notification = failed_notification()
    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403
    response = admin_client.post(f"/admin/notifications/notification/{notification.pk}/change/", {"target": "x@y.z"})
    assert response.status_code == 403
    assert Notification.objects.get(pk=notification.pk).target == "ops@example.com"


def test_admin_retry_now_resets_failed_ones_and_sends_them(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    failed = failed_notification()
    sent = failed_notification(status=DeliveryStatus.SENT, sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notifications/notification/",
            {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert b"1 notification(s) queued" in response.content
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (DeliveryStatus.SENT, 1)
    assert [m.to for m in mailoutbox] == [["ops@example.com"]]
    assert Notification.objects.get(pk=sent.pk).attempts == 5  # left alone


def test_admin_retry_now_needs_the_change_permission(client, django_capture_on_commit_callbacks):
    staff_user = UserFactory(role=Role.MANAGER, is_staff=True)
    staff_user.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(staff_user)
    failed = failed_notification()
    response = client.get("/admin/notifications/notification/")
    assert response.status_code == 200
    assert b"retry_now" not in response.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/notifications/notification/", {"action": "retry_now", "_selected_action": [failed.pk]})
    assert Notification.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED


def test_tasks_are_registered_by_name_and_the_sweep_runs_every_minute(settings):
    assert {"escalation.deliver_notifications", "escalation.resend_notifications"} <= set(celery_app.tasks)
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "escalation.resend_notifications"]
    assert entry["schedule"] == 60


def test_the_table_kept_its_name_and_rule_id_is_no_foreign_key():
    """The outbox sits below escalation: rule_id names a rule without a constraint
    (escalation 0007 dropped it), its index stays; the ticket stays a foreign key."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "escalation_notification")
    foreign = {tuple(c["columns"]): c["foreign_key"] for c in constraints.values() if c["foreign_key"]}
    assert foreign == {("ticket_id",): ("tickets_ticket", "id")}
    assert any(c["index"] and c["columns"] == ["rule_id"] for c in constraints.values())
    assert Notification._meta.db_table == "escalation_notification"
