"""The notification outbox: recipients, writing rows in the caller's transaction,
e-mail delivery after commit, idempotence, backoff, the sweep and the admin (docs/PRODUCT.md "Notifications")."""

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

from escalation import notifications
from escalation.models import Channel, DeliveryStatus, EscalationRule, Notification
from escalation.notifications import (
    notification_deliver,
    notifications_create,
    notifications_resend_due,
    recipients_for,
    validate_notify_spec,
)
from escalation.tasks import deliver_notifications
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.testing.brokers import CLOSED_BROKER_URL, celery_broker
from helpdesk.tests.factories import UserFactory
from tickets.events import EventKind
from tickets.models import TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

DELIVER_TASK = "escalation.deliver_notifications"


class Boom(Exception):
    pass


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def emails(*users) -> list[tuple[str, str]]:
    return [("email", user.email) for user in users]


# --- recipients_for and validate_notify_spec ---------------------------------------------------


@pytest.fixture
def staff(db):
    return {
        "l1": UserFactory(role=Role.L1),
        "l1_inactive": UserFactory(role=Role.L1, is_active=False),
        "l1_no_email": UserFactory(role=Role.L1, email=""),
        "l2": UserFactory(role=Role.L2),
        "l3": UserFactory(role=Role.L3),
        "manager": UserFactory(role=Role.MANAGER),
        "manager_inactive": UserFactory(role=Role.MANAGER, is_active=False),
        "admin": UserFactory(role=Role.ADMIN),
        "customer": UserFactory(role=Role.CUSTOMER),
    }


def test_tier_spec_emails_the_active_agents_of_that_tier_role(staff):
    ticket = TicketFactory(tier=2)
    assert recipients_for("tier:1", ticket=ticket) == emails(staff["l1"])
    assert recipients_for("tier:2", ticket=ticket) == emails(staff["l2"])
    assert recipients_for("tier:3", ticket=ticket) == emails(staff["l3"])


def test_tier_current_is_the_tickets_tier(staff):
    assert recipients_for("tier:current", ticket=TicketFactory(tier=3)) == emails(staff["l3"])
    assert recipients_for("tier:current", ticket=TicketFactory(tier=1)) == emails(staff["l1"])
    assert recipients_for("tier:current", ticket=None) == []


def test_role_spec_emails_the_active_users_of_that_role(staff):
    ticket = TicketFactory()
    assert recipients_for("role:manager", ticket=ticket) == emails(staff["manager"])
    assert recipients_for("role:admin", ticket=ticket) == emails(staff["admin"])
    assert recipients_for("role:l1", ticket=ticket) == emails(staff["l1"])
    assert recipients_for("role:l2", ticket=ticket) == emails(staff["l2"])
    assert recipients_for("role:l3", ticket=ticket) == emails(staff["l3"])


def test_user_spec_emails_that_user_if_active_and_reachable(staff):
    ticket = TicketFactory()
    assert recipients_for(f"user:{staff['l2'].pk}", ticket=ticket) == emails(staff["l2"])
    assert recipients_for(f"user:{staff['l1_inactive'].pk}", ticket=ticket) == []
    assert recipients_for(f"user:{staff['l1_no_email'].pk}", ticket=ticket) == []
    assert recipients_for("user:999999", ticket=ticket) == []


def test_email_and_registered_webhook_specs_are_their_own_target(db):
    ticket = TicketFactory()
    WebhookEndpointFactory(url="https://hooks.example.com/x?y=1")
    WebhookEndpointFactory(url="http://127.0.0.1:8080/hook")
    assert recipients_for("email:ops@example.com", ticket=ticket) == [("email", "ops@example.com")]
    assert recipients_for("webhook:https://hooks.example.com/x?y=1", ticket=ticket) == [
        ("webhook", "https://hooks.example.com/x?y=1")
    ]
    assert recipients_for("webhook:http://127.0.0.1:8080/hook", ticket=ticket) == [
        ("webhook", "http://127.0.0.1:8080/hook")
    ]


@pytest.mark.parametrize(
    "spec",
    [
        "sms:+4912345",
        "role:customer",
        "role:boss",
        "tier:0",
        "tier:4",
        "tier:two",
        "user:abc",
        "email:not-an-address",
        "webhook:ftp://example.com/x",
        "webhook:javascript:alert(1)",
        "webhook:https://",
        "webhook:https://example.com/a b",
        "webhook:http://example.com:99999/",
        "",
        "tier",
    ],
)
def test_invalid_specs_reach_nobody_and_explain_why(staff, spec):
    assert recipients_for(spec, ticket=TicketFactory()) == []
    problem = validate_notify_spec(spec)
    assert isinstance(problem, str) and problem


@pytest.mark.parametrize(
    "spec",
    [
        "tier:1",
        "tier:3",
        "tier:current",
        "role:manager",
        "role:admin",
        "role:l1",
        "email:ops@example.com",
        "webhook:https://hooks.example.com/services/T0/B0/xyz",
        "webhook:http://10.0.0.8:8080/",  # private ranges are allowed (docs/RELIABILITY.md "Outbound requests")
    ],
)
def test_valid_specs(db, spec):
    if spec.startswith("webhook:"):
        WebhookEndpointFactory(url=spec.removeprefix("webhook:"))
    assert validate_notify_spec(spec) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("webhook:http://127.0.0.1:8080/", "the address 127.0.0.1 is loopback"),
        ("webhook:http://localhost:8080/", "localhost resolves to"),
        ("webhook:http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is link-local"),
        ("webhook:http://[fd00:ec2::254]/", "is a cloud metadata address"),
        ("webhook:http://0x7f000001/", "0x7f000001 resolves to 127.0.0.1, which is loopback"),
    ],
)
def test_webhook_targets_the_outbound_policy_refuses(db, spec, says):
    """Refused when a rule is saved (docs/RELIABILITY.md "Outbound requests"), naming the rule and the setting that lifts it."""
    problem = validate_notify_spec(spec)
    assert says in problem
    assert "HELPDESK_OUTBOUND_ALLOW" in problem


def test_a_webhook_url_must_be_registered_to_be_notified(db):
    """Deliveries are signed with the endpoint's own secret: an unregistered URL
    has none, so it is refused with where to register it, and reaches nobody."""
    spec = "webhook:https://hooks.example.com/unregistered"
    problem = validate_notify_spec(spec)
    assert "not registered" in problem and "/api/v1/webhooks/" in problem
    assert recipients_for(spec, ticket=TicketFactory()) == []
    WebhookEndpointFactory(url="https://hooks.example.com/unregistered")
    assert validate_notify_spec(spec) is None
    assert validate_notify_spec(" WEBHOOK: https://hooks.example.com/unregistered ") is None


def test_user_spec_must_name_an_active_user(staff):
    assert validate_notify_spec(f"user:{staff['l1'].pk}") is None
    assert "no active user" in validate_notify_spec(f"user:{staff['l1_inactive'].pk}")
    assert "no active user" in validate_notify_spec("user:999999")


def test_tiers_beyond_the_configured_ones_are_invalid(db, settings):
    settings.HELPDESK_TIERS = 2
    assert validate_notify_spec("tier:2") is None
    assert "1-2" in validate_notify_spec("tier:3")


def test_non_string_spec_is_invalid(db):
    assert validate_notify_spec(None) and validate_notify_spec(3)  # type: ignore[arg-type]


# --- notifications_create -------------------------------------------------------------------------


def test_rows_are_written_in_the_callers_transaction_and_roll_back_with_it(
    staff, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom):
            with transaction.atomic():
                ids = notifications_create(
                    specs=["tier:1", "role:manager"], tickets=[ticket], subject="s", body="b", payload={}
                )
                assert Notification.objects.filter(pk__in=ids).count() == 2
                raise Boom
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mailoutbox == []


def test_recipients_are_deduplicated_per_ticket(staff, django_capture_on_commit_callbacks):
    first, second = TicketFactory(tier=1), TicketFactory(tier=1)
    WebhookEndpointFactory(url="http://127.0.0.1:9/hook")
    l1 = staff["l1"]
    with django_capture_on_commit_callbacks(execute=False):
        ids = notifications_create(
            specs=[
                "tier:1",
                "tier:current",
                f"user:{l1.pk}",
                f"email:{l1.email.upper()}",
                "role:manager",
                "webhook:http://127.0.0.1:9/hook",
                "webhook:http://127.0.0.1:9/hook",
                "bogus:spec",
            ],
            tickets=[first, second],
            subject="s",
            body="b",
            payload={},
        )
    rows = Notification.objects.filter(pk__in=ids)
    expected = {("email", l1.email), ("email", staff["manager"].email), ("webhook", "http://127.0.0.1:9/hook")}
    for ticket in (first, second):
        got = [(n.channel, n.target) for n in rows if n.ticket_id == ticket.pk]
        assert sorted(got) == sorted(expected)
    assert len(ids) == 6
    assert all(n.status == DeliveryStatus.PENDING and n.attempts == 0 for n in rows)


def test_placeholders_are_filled_per_ticket_and_the_payload_merged(db, django_capture_on_commit_callbacks):
    rule = EscalationRuleFactory(name="P1 overdue", trigger="resolution_overdue")
    one = TicketFactory(title="Mail is down", priority=1, tier=2)
    two = TicketFactory(title="Printer", priority=4, tier=1)
    with django_capture_on_commit_callbacks(execute=False):
        ids = notifications_create(
            specs=["email:ops@example.com"],
            tickets=[one, two],
            subject="[{number}] {priority} {title}\nleft {unknown} alone",
            body="Tier {tier}: {title} is overdue. {url}",
            payload={
                "event": "rule_fired",
                "rule": "P1 overdue",
                "due": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
            },
            rule=rule,
        )
    by_ticket = {n.ticket_id: n for n in Notification.objects.filter(pk__in=ids)}
    first = by_ticket[one.pk]
    assert first.subject == f"[{one.number}] P1 Mail is down left {{unknown}} alone"
    assert first.body == f"Tier 2: Mail is down is overdue. http://127.0.0.1:8000/tickets/{one.pk}/"
    assert first.rule_id == rule.pk
    assert first.payload == {
        "id": one.pk,
        "number": one.number,
        "title": "Mail is down",
        "status": "new",
        "tier": 2,
        "priority": 1,
        "url": f"http://127.0.0.1:8000/tickets/{one.pk}/",
        "event": "rule_fired",
        "rule": "P1 overdue",
        "due": "2030-01-01T00:00:00Z",
    }
    assert by_ticket[two.pk].subject == f"[{two.number}] P4 Printer left {{unknown}} alone"


def test_a_long_subject_is_cut_to_the_column(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        [pk] = notifications_create(
            specs=["email:a@example.com"], tickets=[TicketFactory()], subject="x" * 500, body="", payload={}
        )
    assert len(Notification.objects.get(pk=pk).subject) == 300


def test_delivery_is_enqueued_after_commit_in_batches_of_at_most_100(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(notifications, "enqueue", lambda name, **kwargs: sent.append((name, kwargs)) or True)
    specs = [f"email:user{i}@example.com" for i in range(250)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            ids = notifications_create(specs=specs, tickets=[TicketFactory()], subject="s", body="b", payload={})
            assert sent == []
    assert len(callbacks) == 3
    assert [len(kwargs["notification_ids"]) for _, kwargs in sent] == [100, 100, 50]
    assert all(name == DELIVER_TASK and kwargs["fallback"] is False for name, kwargs in sent)
    assert [pk for _, kwargs in sent for pk in kwargs["notification_ids"]] == ids


def test_email_is_delivered_after_commit_and_never_twice(staff, mailoutbox, django_capture_on_commit_callbacks):
    ticket = TicketFactory(title="VPN drops every hour", priority=2, tier=1)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            [pk] = notifications_create(
                specs=["tier:1"],
                tickets=[ticket],
                subject="[{number}] resolution overdue",
                body="The resolution target passed; rule 'P2 overdue' escalated it.",
                payload={"reason": "resolution overdue"},
            )
            assert mailoutbox == []  # nothing leaves before the commit

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [staff["l1"].email]
    assert message.subject == f"[{ticket.number}] resolution overdue"
    text = message.body
    for expected in (
        "The resolution target passed; rule 'P2 overdue' escalated it.",
        f"{ticket.number} VPN drops every hour",
        "P2 (high)",
        "Tier:      1",
        "Reason:    resolution overdue",
        f"http://127.0.0.1:8000/tickets/{ticket.pk}/",
    ):
        assert expected in text
    assert "&#x27;" not in text  # plain text, not HTML-escaped
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts, notification.last_error) == (DeliveryStatus.SENT, 1, "")
    assert notification.sent_at is not None

    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert deliver_notifications([pk]) == {"sent": 1}
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        assert notifications_resend_due() == 0
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=pk).attempts == 1


def test_unknown_id_is_reported_missing(db):
    assert notification_deliver(notification_id=987654) == notifications.MISSING
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
                [pk] = notifications_create(
                    specs=["email:ops@example.com"], tickets=[ticket], subject="s", body="b", payload={}
                )
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


# --- failures and backoff -----------------------------------------------------------------------


def test_backoff_doubles_from_30_seconds():
    delays = [notifications.retry_delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 480, 960]
    assert notifications.retry_delay(50).total_seconds() == 3600


def test_email_failures_back_off_then_fail_with_a_ticket_event(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.HELPDESK_NOTIFY_MAX_ATTEMPTS = 3
    ticket = TicketFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                [pk] = notifications_create(
                    specs=["email:ops@example.com"], tickets=[ticket], subject="s", body="b", payload={}
                )
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
    monkeypatch.setattr(
        notifications, "enqueue", lambda name, **kwargs: sent.append(kwargs["notification_ids"]) or True
    )
    now = timezone.now()
    ticket = TicketFactory()

    def row(minutes_ago: int, status: str = DeliveryStatus.PENDING) -> int:
        return Notification.objects.create(
            channel=Channel.EMAIL,
            target="a@example.com",
            subject="s",
            ticket=ticket,
            status=status,
            next_attempt_at=now - datetime.timedelta(minutes=minutes_ago),
        ).pk

    newer, older, oldest = row(1), row(5), row(10)
    row(-5)  # not due
    row(20, DeliveryStatus.SENT)
    row(20, DeliveryStatus.FAILED)
    assert notifications_resend_due(now=now, limit=2) == 2
    assert sent == [[oldest, older]]
    sent.clear()
    assert notifications_resend_due(now=now) == 3
    assert sent == [[oldest, older, newer]]


# --- admin -------------------------------------------------------------------------------------


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
        response = admin_client.get(f"/admin/escalation/notification/{query}")
        assert response.status_code == 200
    assert b"ops@example.com" in admin_client.get("/admin/escalation/notification/?status__exact=failed").content


def test_admin_notifications_are_read_only(admin_client):
    notification = failed_notification()
    assert admin_client.get("/admin/escalation/notification/add/").status_code == 403
    response = admin_client.post(f"/admin/escalation/notification/{notification.pk}/change/", {"target": "x@y.z"})
    assert response.status_code == 403
    assert Notification.objects.get(pk=notification.pk).target == "ops@example.com"


def test_admin_retry_now_resets_failed_ones_and_sends_them(
    admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    failed = failed_notification()
    sent = failed_notification(status=DeliveryStatus.SENT, sent_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/escalation/notification/",
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
    response = client.get("/admin/escalation/notification/")
    assert response.status_code == 200
    assert b"retry_now" not in response.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/escalation/notification/", {"action": "retry_now", "_selected_action": [failed.pk]})
    assert Notification.objects.get(pk=failed.pk).status == DeliveryStatus.FAILED


def test_admin_rule_form_rejects_bad_notify_specs(admin_client):
    EscalationRule.objects.all().delete()  # the default rules shipped by the migration
    assert admin_client.get("/admin/escalation/escalationrule/add/").status_code == 200
    data = {
        "name": "Overdue P1",
        "enabled": "on",
        "order": "10",
        "tiers": "[]",
        "priorities": "[1]",
        "statuses": "[]",
        "kinds": "[]",
        "applications": "[]",
        "categories": "[]",
        "trigger": "resolution_overdue",
        "threshold": "0",
        "notify": '["role:manager", "sms:123"]',
        "note": "",
    }
    response = admin_client.post("/admin/escalation/escalationrule/add/", data)
    assert response.status_code == 200
    assert b"unknown notify target" in response.content
    assert not EscalationRule.objects.exists()
    data["notify"] = '["role:manager", "tier:2"]'
    response = admin_client.post("/admin/escalation/escalationrule/add/", data)
    assert response.status_code == 302
    assert EscalationRule.objects.get().notify == ["role:manager", "tier:2"]


def test_admin_rule_firings_are_read_only(admin_client):
    assert admin_client.get("/admin/escalation/rulefiring/").status_code == 200
    assert admin_client.get("/admin/escalation/rulefiring/add/").status_code == 403


def test_recipients_are_looked_up_once_per_spec_not_per_ticket(
    staff, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    tickets = [TicketFactory(tier=1 + i % 3) for i in range(30)]
    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(8):
        ids = notifications_create(
            specs=["tier:current", "role:manager", "email:ops@example.com"],
            tickets=tickets,
            subject="s",
            body="b",
            payload={},
        )
    assert len(ids) == 30 * 3
    by_ticket = {}
    for n in Notification.objects.filter(pk__in=ids):
        by_ticket.setdefault(n.ticket_id, set()).add(n.target)
    tier_agent = {1: staff["l1"], 2: staff["l2"], 3: staff["l3"]}
    for ticket in tickets:
        assert by_ticket[ticket.pk] == {tier_agent[ticket.tier].email, staff["manager"].email, "ops@example.com"}


def test_tasks_are_registered_by_name_and_the_sweep_runs_every_minute(settings):
    assert {"escalation.deliver_notifications", "escalation.resend_notifications"} <= set(celery_app.tasks)
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "escalation.resend_notifications"]
    assert entry["schedule"] == 60


# --- digests -------------------------------------------------------------------------------------


def _create_for(tickets, *, digest_after=3, specs=("role:manager", "email:ops@example.com")):
    return notifications_create(
        specs=list(specs),
        tickets=tickets,
        subject="[{number}] {title}",
        body="{title} is late",
        payload={"event": "rule_fired"},
        digest_after=digest_after,
        digest_subject="Late: {count} tickets",
        digest_body="{count} tickets are late.",
    )


def test_up_to_digest_after_tickets_each_recipient_gets_one_message_per_ticket(
    staff, django_capture_on_commit_callbacks
):
    tickets = TicketFactory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for(tickets, digest_after=3)
    rows = Notification.objects.filter(pk__in=ids)
    assert len(ids) == 6 and {n.ticket_id for n in rows} == {t.pk for t in tickets}
    assert all("tickets" not in n.payload for n in rows)


def test_more_than_digest_after_tickets_make_one_digest_per_recipient(staff, django_capture_on_commit_callbacks):
    tickets = [TicketFactory(title=f"Printer {i}", priority=3, tier=1) for i in range(4)]
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for(tickets, digest_after=3)
    rows = list(Notification.objects.filter(pk__in=ids).order_by("target"))
    assert [n.target for n in rows] == sorted(["ops@example.com", staff["manager"].email])
    for digest in rows:
        assert digest.ticket_id is None
        assert digest.subject == "Late: 4 tickets"
        assert digest.payload["event"] == "rule_fired" and digest.payload["count"] == 4
        assert [item["id"] for item in digest.payload["tickets"]] == [t.pk for t in tickets]
        assert digest.payload["ticket_ids"] == [t.pk for t in tickets]
        assert digest.payload["tickets"][0]["url"] == f"http://127.0.0.1:8000/tickets/{tickets[0].pk}/"
        assert digest.body.startswith("4 tickets are late.\n\n")
        for ticket in tickets:
            assert f"- {ticket.number} P3 tier 1: {ticket.title}" in digest.body


def test_a_digest_mixes_with_single_messages_per_recipient(staff, django_capture_on_commit_callbacks):
    tier1 = TicketFactory.create_batch(3, tier=1)
    tier2 = TicketFactory(tier=2)
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for([*tier1, tier2], digest_after=2, specs=("tier:current",))
    rows = Notification.objects.filter(pk__in=ids)
    by_target = {n.target: n for n in rows}
    assert len(rows) == 2
    assert by_target[staff["l1"].email].payload["count"] == 3  # three tier-1 tickets: a digest
    assert by_target[staff["l2"].email].ticket_id == tier2.pk  # one tier-2 ticket: its own message


def test_a_long_digest_describes_the_first_tickets_and_names_them_all(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(notifications, "DIGEST_LIST_MAX", 2)
    tickets = TicketFactory.create_batch(5)
    with django_capture_on_commit_callbacks(execute=False):
        [pk] = _create_for(tickets, digest_after=1, specs=("email:ops@example.com",))
    digest = Notification.objects.get(pk=pk)
    assert digest.body.count("\n- ") == 2 and digest.body.endswith("... and 3 more.\n")
    assert [item["id"] for item in digest.payload["tickets"]] == [t.pk for t in tickets[:2]]
    assert digest.payload["ticket_ids"] == [t.pk for t in tickets] and digest.payload["count"] == 5


def test_a_digest_is_mailed_with_its_list(staff, mailoutbox, django_capture_on_commit_callbacks):
    tickets = TicketFactory.create_batch(4)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            _create_for(tickets, digest_after=3, specs=("email:ops@example.com",))
    [mail] = mailoutbox
    assert mail.subject == "Late: 4 tickets" and mail.to == ["ops@example.com"]
    assert all(ticket.number in mail.body for ticket in tickets)


def test_a_digest_that_fails_for_good_leaves_an_event_on_each_listed_ticket(
    db, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.HELPDESK_NOTIFY_MAX_ATTEMPTS = 1
    tickets = TicketFactory.create_batch(4)
    other = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            [pk] = _create_for(tickets, digest_after=3, specs=("email:ops@example.com",))
    assert Notification.objects.get(pk=pk).status == DeliveryStatus.FAILED
    failed = TicketEvent.objects.filter(kind=EventKind.NOTIFICATION_FAILED)
    assert sorted(failed.values_list("ticket_id", flat=True)) == sorted(t.pk for t in tickets)
    assert not failed.filter(ticket=other).exists()
    assert {e.data["notification"] for e in failed} == {pk}
