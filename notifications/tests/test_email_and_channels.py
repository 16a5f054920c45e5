"""The e-mail sender (extra headers, an HTML alternative and a sender address taken
from the row, for threaded customer mail) and the registry of channel senders."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.db import transaction

from notifications import channels
from notifications.delivery import notification_deliver
from notifications.email_sender import send_email
from notifications.models import Channel, DeliveryStatus, Notification
from notifications.outbox import OutboxRow, notifications_insert

pytestmark = pytest.mark.django_db

THREAD = {
    "Message-ID": "<reply-2@helpdesk.example.com>",
    "In-Reply-To": "<question-1@customer.example.org>",
    "References": "<question-1@customer.example.org>",
    "Reply-To": "support+T-42@helpdesk.example.com",
    "Auto-Submitted": "auto-replied",
}


def write(payload: dict, *, channel: str = Channel.EMAIL, target: str = "ann@customer.example.org") -> int:
    with transaction.atomic():
        [pk] = notifications_insert(rows=[OutboxRow(channel, target, "Re: printer on fire", "We are on it.", payload)])
    return pk


def parsed(message) -> email.message.EmailMessage:
    """The bytes the backend would put on the wire, read back."""
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


def test_threaded_mail_carries_its_headers_html_and_sender(mailoutbox, django_capture_on_commit_callbacks):
    payload = {
        "from": "Support <support@helpdesk.example.com>",
        "headers": THREAD,
        "html": "<p>We are <b>on it</b>.</p>",
    }
    with django_capture_on_commit_callbacks(execute=True):
        pk = write(payload)

    assert Notification.objects.get(pk=pk).status == DeliveryStatus.SENT
    [message] = mailoutbox
    wire = parsed(message)
    assert wire["From"] == "Support <support@helpdesk.example.com>"
    assert wire["To"] == "ann@customer.example.org"
    assert wire["Subject"] == "Re: printer on fire"
    for name, value in THREAD.items():
        assert wire[name] == value, name
    assert len(wire.get_all("Message-ID")) == 1  # ours, not a second one made up by Django
    assert wire.get_content_type() == "multipart/alternative"
    text, html = wire.iter_parts()
    assert text.get_content_type() == "text/plain" and "We are on it." in text.get_content()
    assert html.get_content_type() == "text/html" and html.get_content().strip() == "<p>We are <b>on it</b>.</p>"


def test_a_plain_notice_is_text_only_from_the_default_sender(mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "helpdesk@example.com"
    pk = write({})
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    [message] = mailoutbox
    wire = parsed(message)
    assert (wire["From"], wire.get_content_type()) == ("helpdesk@example.com", "text/plain")
    assert wire["In-Reply-To"] is None and wire["Message-ID"]  # Django's own id


def test_the_file_backend_writes_the_threading_headers(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    pk = write({"headers": THREAD})
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    [path] = tmp_path.iterdir()
    written = path.read_text()
    for name, value in THREAD.items():
        assert f"{name}: {value}\n" in written


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"headers": ["Message-ID", "<a@b>"]}, "payload headers must be an object"),
        ({"headers": {"In-Reply-To": "<a@b>\nBcc: everyone@example.com"}}, "header In-Reply-To must be one line"),
        ({"headers": {"X-Bad": "a\rb"}}, "header X-Bad must be one line"),
        ({"headers": {"Bcc": "everyone@example.com"}}, "header Bcc is set by the message itself"),
        ({"headers": {"to": "someone@example.com"}}, "header to is set by the message itself"),
        ({"headers": {"Content-Type": "text/html"}}, "header Content-Type is set by the message itself"),
        ({"headers": {"Bad Name": "x"}}, "not a header name: 'Bad Name'"),
        ({"headers": {"X-Count": 3}}, "header X-Count must be one line of text"),
        ({"from": "a@example.com\nBcc: b@example.com"}, "payload from must be one e-mail address"),
        ({"from": ["a@example.com"]}, "payload from must be one e-mail address"),
        ({"html": {"p": "x"}}, "payload html must be text"),
    ],
)
def test_a_malformed_payload_fails_the_attempt_and_sends_nothing(mailoutbox, payload, says):
    pk = write(payload)
    assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
    notification = Notification.objects.get(pk=pk)
    assert notification.attempts == 1
    assert notification.last_error.startswith(f"ValueError: {says}")
    assert mailoutbox == []


def test_each_channel_has_its_sender_registered_at_start_up():
    from escalation.webhook_sender import send_webhook

    assert channels.registered() == {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}
    assert channels.sender_for(Channel.EMAIL) is send_email


def test_registering_again_is_harmless_but_a_second_sender_is_refused():
    channels.register(Channel.EMAIL, send_email)  # ready() twice
    with pytest.raises(ValueError, match="already has a sender"):
        channels.register(Channel.EMAIL, lambda notification: None)
    assert channels.sender_for(Channel.EMAIL) is send_email


def test_a_channel_without_sender_fails_its_attempt(monkeypatch, mailoutbox):
    monkeypatch.delitem(channels._senders, Channel.EMAIL)
    pk = write({})
    assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
    notification = Notification.objects.get(pk=pk)
    assert notification.last_error == "NoSender: no sender is registered for the 'email' channel"
    assert mailoutbox == []


def test_a_sender_registered_for_a_channel_delivers_its_rows(monkeypatch):
    """What a floor above does in its AppConfig.ready(): the outbox calls its sender."""
    sent: list[tuple[int, str]] = []
    monkeypatch.setitem(channels._senders, Channel.WEBHOOK, lambda row: sent.append((row.pk, row.target)))
    pk = write({}, channel=Channel.WEBHOOK, target="https://hooks.example.com/h")
    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert sent == [(pk, "https://hooks.example.com/h")]
