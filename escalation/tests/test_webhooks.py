"""Webhook delivery against a local HTTP server: signature, retries with backoff,
failure after the last attempt, timeouts, redirects (docs/PRODUCT.md "Notifications", docs/WEBHOOKS.md)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from escalation.models import WebhookEndpoint
from escalation.notify import notifications_create
from escalation.tests.factories import WebhookEndpointFactory
from helpdesk.testing.network import free_port
from notifications.delivery import notification_deliver, notifications_resend_due, redacted_target, retry_delay
from notifications.models import DeliveryStatus, Notification
from tickets.events import EventKind
from tickets.models import TicketEvent
from tickets.tests.factories import TicketFactory

# The receivers listen on 127.0.0.1, which the outbound policy refuses unless allowed.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_allow_loopback")]


def create_webhook(url: str, ticket, capture, **extra) -> int:
    """A webhook notification to ``url`` (registered if it is not yet) written in a
    committed transaction; delivery runs on commit (eager)."""
    WebhookEndpointFactory(url=url)
    with capture(execute=True):
        with transaction.atomic():
            [pk] = notifications_create(
                specs=[f"webhook:{url}"],
                tickets=[ticket],
                subject=extra.pop("subject", "[{number}] overdue"),
                body=extra.pop("body", "{title} passed its resolution target"),
                payload=extra.pop("payload", {"event": "rule_fired"}),
            )
    return pk


def test_webhook_posts_json_signed_with_the_endpoint_secret(
    webhook_server, settings, django_capture_on_commit_callbacks
):
    server = webhook_server([200])
    ticket = TicketFactory(title="Checkout returns 502", priority=1, tier=2)
    pk = create_webhook(server.url, ticket, django_capture_on_commit_callbacks, payload={"event": "rule_fired"})
    secret = WebhookEndpoint.objects.get(url=server.url).secret

    [request] = server.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Helpdesk-Notification"] == str(pk)
    # What docs/WEBHOOKS.md tells a receiver to do, with only the endpoint's secret.
    assert verifies(secret, request)
    # Django's master secret no longer signs anything a receiver is sent.
    assert not verifies(settings.SECRET_KEY, request)
    assert not verifies("other-secret", request)
    assert json.loads(request.body) == {
        "subject": f"[{ticket.number}] overdue",
        "text": "Checkout returns 502 passed its resolution target",
        "id": ticket.pk,
        "number": ticket.number,
        "title": "Checkout returns 502",
        "status": "new",
        "tier": 2,
        "priority": 1,
        "url": f"http://127.0.0.1:8000/tickets/{ticket.pk}/",
        "event": "rule_fired",
    }
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts) == (DeliveryStatus.SENT, 1)


def verifies(secret: str, request) -> bool:
    """The receiver's check of docs/WEBHOOKS.md: any ``sha256=`` signature in the header
    equal, in constant time, to the HMAC-SHA256 of the raw body under ``secret``."""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    header = request.headers.get("X-Helpdesk-Signature", "")
    return any(hmac.compare_digest(expected, value.strip()) for value in header.split(","))


def test_500_twice_then_200_is_delivered_on_the_third_attempt(webhook_server, django_capture_on_commit_callbacks):
    server = webhook_server([500, 500, 200])
    ticket = TicketFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        pk = create_webhook(server.url, ticket, django_capture_on_commit_callbacks)
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
        assert notification.last_error == "HTTP 500 Internal Server Error"
        assert notification.next_attempt_at == start + datetime.timedelta(seconds=30)

        # Neither a duplicate message nor the sweep tries before the backoff is over.
        assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
        clock.shift(29)
        assert notifications_resend_due() == 0
        assert server.count() == 1

        clock.shift(1)
        assert notifications_resend_due() == 1
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts, server.count()) == (DeliveryStatus.PENDING, 2, 2)
        assert notification.next_attempt_at == start + datetime.timedelta(seconds=30 + 60)

        clock.shift(59)
        assert notifications_resend_due() == 0
        clock.shift(1)
        assert notifications_resend_due() == 1
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts, notification.last_error) == (DeliveryStatus.SENT, 3, "")
        assert notification.sent_at == start + datetime.timedelta(seconds=90)

        # Delivered: never sent again.
        clock.shift(3600)
        assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
        assert notifications_resend_due() == 0
    assert server.count() == 3
    assert len({r.headers["X-Helpdesk-Notification"] for r in server.requests}) == 1
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION_FAILED).exists()


def test_always_500_fails_after_the_last_attempt_with_a_ticket_event(
    webhook_server, settings, django_capture_on_commit_callbacks
):
    max_attempts = settings.HELPDESK_NOTIFY_MAX_ATTEMPTS
    assert max_attempts >= 2
    server = webhook_server([500])
    ticket = TicketFactory()
    url = server.url + "/T000/B000/secret-token?key=abc"
    with time_machine.travel(timezone.now(), tick=False) as clock:
        pk = create_webhook(url, ticket, django_capture_on_commit_callbacks)
        for attempt in range(1, max_attempts):
            clock.shift(retry_delay(attempt))
            assert notifications_resend_due() == 1
        notification = Notification.objects.get(pk=pk)
        assert (notification.status, notification.attempts) == (DeliveryStatus.FAILED, max_attempts)
        clock.shift(datetime.timedelta(days=1))
        assert notifications_resend_due() == 0
        assert notification_deliver(notification_id=pk) == DeliveryStatus.FAILED
    assert server.count() == max_attempts

    [event] = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION_FAILED)
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    assert event.actor_id is None
    assert event.data == {
        "notification": pk,
        "channel": "webhook",
        # The audit trail every agent reads does not show the token in the URL.
        "target": f"http://{host}:{port}/\u2026",
        "attempts": max_attempts,
        "error": "HTTP 500 Internal Server Error",
    }


def test_a_timeout_counts_as_a_failure(webhook_server, settings, django_capture_on_commit_callbacks):
    settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS = 1
    server = webhook_server([200], delay=3)
    started = time.monotonic()
    pk = create_webhook(server.url, TicketFactory(), django_capture_on_commit_callbacks)
    elapsed = time.monotonic() - started
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
    assert notification.last_error == "timed out after 1 s"
    assert notification.sent_at is None
    assert 0.9 < elapsed < 2.5, elapsed


def test_connection_refused_counts_as_a_failure(db, django_capture_on_commit_callbacks):
    port = free_port()  # a port nobody listens on
    pk = create_webhook(f"http://127.0.0.1:{port}/hook", TicketFactory(), django_capture_on_commit_callbacks)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
    assert notification.last_error.startswith("connection failed:")


@pytest.mark.parametrize("status", [302, 404])
def test_redirects_and_client_errors_are_failures(webhook_server, django_capture_on_commit_callbacks, status):
    server = webhook_server([status])
    pk = create_webhook(server.url, TicketFactory(), django_capture_on_commit_callbacks)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.last_error[:8]) == (DeliveryStatus.PENDING, f"HTTP {status}")
    assert [r.path for r in server.requests] == ["/hook"]  # the redirect was not followed


def test_a_webhook_to_a_refused_address_is_not_sent(webhook_server, settings, django_capture_on_commit_callbacks):
    """Checked again when sent (docs/RELIABILITY.md "Outbound requests"): a rule saved before, or a name that now
    resolves to loopback, reaches nothing."""
    settings.HELPDESK_OUTBOUND_ALLOW = []
    server = webhook_server([200])
    pk = create_webhook(server.url, TicketFactory(), django_capture_on_commit_callbacks)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
    assert notification.last_error == "refused by the outbound policy: loopback address"
    assert server.count() == 0


def test_the_receivers_own_words_are_not_recorded(webhook_server, settings, django_capture_on_commit_callbacks):
    """last_error and the notification_failed event reach agents: status and the
    standard phrase only, not the receiver's reason phrase or body."""
    settings.HELPDESK_NOTIFY_MAX_ATTEMPTS = 1
    server = webhook_server([503], reason="db password hunter2", body=b"<html>internal stack trace</html>")
    ticket = TicketFactory()
    pk = create_webhook(server.url, ticket, django_capture_on_commit_callbacks)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.last_error) == (DeliveryStatus.FAILED, "HTTP 503 Service Unavailable")
    [event] = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.NOTIFICATION_FAILED)
    assert event.data["error"] == "HTTP 503 Service Unavailable"
    assert server.count() == 1


def test_redacted_target():
    assert redacted_target("webhook", "https://user:pw@hooks.example.com/services/T/B/x?y=1") == (
        "https://hooks.example.com/\u2026"
    )
    assert redacted_target("webhook", "http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"
    assert redacted_target("email", "ops@example.com") == "ops@example.com"


@pytest.mark.django_db(transaction=True)
def test_a_row_another_worker_holds_is_skipped(webhook_server):
    """select_for_update(skip_locked): while one worker sends, a second delivery of the same row is a no-op."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    server = webhook_server([200])
    WebhookEndpointFactory(url=server.url)
    # Written directly, so no delivery is enqueued: the other "worker" below holds the row.
    pk = Notification.objects.create(
        channel="webhook", target=server.url, subject="s", ticket=TicketFactory(), next_attempt_at=timezone.now()
    ).pk
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        from django.db import connections

        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
        assert time.monotonic() - started < 2  # skipped, did not wait for the lock
        assert server.count() == 0
    finally:
        release.set()
        thread.join(10)
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert server.count() == 1
