"""The SMTP receiver of the test support (helpdesk.testing.smtp): a message sent with
Django's own SMTP backend arrives whole, envelope and headers as sent."""

from __future__ import annotations

import smtplib

import pytest
from django.core.mail import EmailMultiAlternatives, get_connection

from helpdesk.testing.processes import gone
from helpdesk.testing.smtp import received, smtp_receiver


@pytest.fixture
def receiver(tmp_path):
    with smtp_receiver(tmp_path / "smtp") as running:
        yield running


def test_a_message_sent_by_djangos_smtp_backend_arrives_with_its_headers(receiver):
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=receiver.host, port=receiver.port, timeout=5
    )
    message = EmailMultiAlternatives(
        subject="[HD-000123] Drucker druckt nicht – Grüße",
        body="Wir kümmern uns darum.\n",
        from_email="Helpdesk <helpdesk@example.com>",
        to=["Jürgen Müller <juergen@example.com>"],
        cc=["colleague@example.com"],
        bcc=["audit@example.com"],
        reply_to=["helpdesk+t0k3n@example.com"],
        headers={
            "Message-ID": "<hd-123-1@example.com>",
            "In-Reply-To": "<customer-1@example.com>",
            "References": "<customer-1@example.com>",
            "Auto-Submitted": "auto-replied",
        },
        connection=connection,
    )
    message.attach_alternative("<p>Wir kümmern uns darum.</p>", "text/html")
    assert message.send() == 1

    [got] = receiver.wait_for(1)
    assert got.mail_from == "helpdesk@example.com"
    assert sorted(got.rcpt_tos) == ["audit@example.com", "colleague@example.com", "juergen@example.com"]
    parsed = got.message
    # Django folds a long encoded subject onto a continuation line ("Subject: \r\n =?utf-8?b?...");
    # unfolded, that leaves a space before the decoded text: a parser must strip it.
    assert parsed["Subject"].strip() == "[HD-000123] Drucker druckt nicht – Grüße"
    assert parsed["To"].addresses[0].display_name == "Jürgen Müller"
    assert parsed["Cc"] == "colleague@example.com" and parsed["Bcc"] is None
    assert parsed["Reply-To"] == "helpdesk+t0k3n@example.com"
    assert parsed["Message-ID"] == "<hd-123-1@example.com>"
    assert parsed["In-Reply-To"] == parsed["References"] == "<customer-1@example.com>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    # SMTP carries CRLF line ends; the parser keeps them.
    assert parsed.get_body(("plain",)).get_content() == "Wir kümmern uns darum.\r\n"
    assert parsed.get_body(("html",)).get_content() == "<p>Wir kümmern uns darum.</p>"
    assert b"Message-ID: <hd-123-1@example.com>" in got.raw


def test_messages_are_kept_in_arrival_order(receiver):
    with smtplib.SMTP(receiver.host, receiver.port, timeout=5) as client:
        for number in range(1, 12):
            client.sendmail("a@example.com", [f"b{number}@example.com"], f"Subject: n{number}\r\n\r\nbody\r\n")
    messages = receiver.wait_for(11)
    assert [item.message["Subject"] for item in messages] == [f"n{number}" for number in range(1, 12)]
    again = received(receiver.directory)
    assert [(item.mail_from, item.rcpt_tos, item.raw) for item in again] == [
        (item.mail_from, item.rcpt_tos, item.raw) for item in messages
    ]


def test_the_receiver_is_a_process_of_its_own_stopped_by_its_pid(tmp_path):
    with smtp_receiver(tmp_path) as running:
        pid = running.proc.process.pid
        assert running.proc.alive()
    assert not running.proc.alive()
    assert gone(pid)
    with pytest.raises(OSError):
        smtplib.SMTP(running.host, running.port, timeout=2)
