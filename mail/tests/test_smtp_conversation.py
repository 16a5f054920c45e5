"""A whole conversation by e-mail with real processes (SPEC section 8, docs/EMAIL.md):
gunicorn serving ``POST /api/v1/mail/inbound/``, a redis-server and a Celery worker
of the test's own delivering the outbox with Django's SMTP backend to an aiosmtpd
receiver (helpdesk.testing.smtp).

The customer writes in, is acknowledged, the agent answers (and writes an internal
note that never leaves), the customer replies to the received message and the
reply lands on the same ticket; agents hear about assignments, customer replies and
escalations unless their switch is off; a bounce of a sent message marks its
outbox row failed and the requester as bouncing.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from pathlib import Path

import pytest

from helpdesk.celery import app as celery_app
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.network import answers, free_port
from helpdesk.testing.processes import Proc
from helpdesk.testing.smtp import Received, SmtpReceiver, smtp_receiver
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import CeleryProcesses, Worker, celery_env, require_postgresql
from helpdesk.tests.factories import UserFactory
from mail.models import Direction, MailThread, Outcome, ThreadMessage
from mail.services.mailboxes import mailbox_create
from mail.tests.factories import raw_message
from notifications.models import DeliveryStatus, Notification
from tickets.models import Comment, Status, Ticket
from tickets.services.workflow import comment_create, ticket_assign, ticket_escalate, ticket_transition

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ADDRESS = "support@helpdesk.example"
TEAM = "Example Support"
FROM = f"{TEAM} <helpdesk@helpdesk.example>"
JANE = "jane@customer.example"
BOB = "bob@customer.example"
NOTE = "Internal: the printer vendor owes us a favour."


@dataclass
class Site:
    """gunicorn on the test database, publishing to the test's broker."""

    base: str
    proc: Proc

    def inbound(self, token: str, raw: bytes) -> tuple[int, dict]:
        import json

        request = urllib.request.Request(
            self.base + "/api/v1/mail/inbound/",
            data=raw,
            method="POST",
            headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {"body": error.read()[:500]}


@dataclass
class Conversation:
    site: Site
    receiver: SmtpReceiver
    worker: Worker

    def wait_for(self, count: int) -> list[Received]:
        self.worker.assert_alive()
        return self.receiver.wait_for(count, seconds=20)


@pytest.fixture
def conversation(private_redis, tmp_path, settings, monkeypatch) -> Iterator[Conversation]:
    require_postgresql()
    settings.HELPDESK_EMAIL_FROM = FROM
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    env = {"HELPDESK_EMAIL_FROM": FROM, "HELPDESK_VAR_DIR": str(tmp_path / "var")}
    with smtp_receiver(tmp_path / "smtp") as receiver, celery_broker(private_redis.url):
        processes = CeleryProcesses(
            private_redis.url,
            tmp_path,
            {**env, "EMAIL_HOST": receiver.host, "EMAIL_PORT": str(receiver.port)},
        )
        port = free_port()
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        site_env = celery_env(broker_url=private_redis.url, **env)
        site_env["LOG_LEVEL"] = "WARNING"
        proc = Proc.start(
            "gunicorn",
            [gunicorn, "helpdesk.wsgi", "--workers=1", f"--bind=127.0.0.1:{port}"],
            site_env,
            tmp_path / "gunicorn.log",
        )
        try:
            worker = processes.worker("mailer")
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: answers(base + "/healthz"), "gunicorn answering", 60, proc.assert_alive, every=0.2)
            yield Conversation(Site(base, proc), receiver, worker)
        finally:
            proc.stop()
            processes.stop()


def one(messages: list[Received], to: str, subject_part: str) -> Received:
    found = [m for m in messages if to in m.rcpt_tos and subject_part in str(m.message["Subject"])]
    assert len(found) == 1, [(m.rcpt_tos, str(m.message["Subject"])) for m in messages]
    return found[0]


def parts(message: Received) -> tuple[str, str]:
    text = message.message.get_body(preferencelist=("plain",)).get_content()
    html = message.message.get_body(preferencelist=("html",)).get_content()
    return text, html


def mid(message: Received) -> str:
    return str(message.message["Message-ID"])


def ids(header) -> list[str]:
    return str(header or "").split()


def agent(role: str, name: str, **switches) -> User:
    return UserFactory(role=role, username=name, email=f"{name}@agents.example", **switches)


def dsn_for(message_id: str, recipient: str) -> bytes:
    """A Postfix-shaped delivery-status report for one message we sent."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        f"To: {ADDRESS}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.customer.example')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {TEAM} <{ADDRESS}>\r\nTo: {recipient}\r\nMessage-ID: <{message_id}>\r\n\r\n"
        "--b1--\r\n"
    ).encode()


def test_a_conversation_by_email_end_to_end(conversation):
    site, receiver = conversation.site, conversation.receiver
    mailbox, token = mailbox_create(name="Support", address=ADDRESS, kind="http")
    manager = agent(Role.MANAGER, "maria")
    alice = agent(Role.L1, "alice")
    quiet = agent(Role.L1, "quentin", notify_assigned=False)
    carol = agent(Role.L2, "carol")
    agent(Role.L2, "dave", notify_escalated=False)

    # 1. The customer writes in (Bob in copy) and is acknowledged.
    first_id = make_msgid(domain="customer.example")
    status, body = site.inbound(
        token,
        raw_message(
            sender=f"Jane Doe <{JANE}>",
            to=ADDRESS,
            cc=f"Bob <{BOB}>",
            subject="Printer on fire",
            body="It smokes.\n",
            message_id=first_id,
        ),
    )
    assert (status, body["outcome"]) == (202, Outcome.CREATED), body
    ticket = Ticket.objects.get(pk=body["ticket"])
    subject = f"[{ticket.number}] Printer on fire"
    reply_to = f"support+{MailThread.objects.get(ticket=ticket).token}@helpdesk.example"
    [ack] = conversation.wait_for(1)
    assert sorted(ack.rcpt_tos) == [BOB, JANE]
    assert str(ack.message["Subject"]) == subject
    assert parseaddr(str(ack.message["From"])) == (TEAM, ADDRESS)
    assert parseaddr(str(ack.message["Reply-To"]))[1] == reply_to
    assert parseaddr(str(ack.message["Cc"]))[1] == BOB
    assert str(ack.message["In-Reply-To"]) == first_id
    assert str(ack.message["Auto-Submitted"]) == "auto-replied"
    ack_stored = ThreadMessage.objects.get(ticket=ticket, direction=Direction.OUT)
    assert str(ack.message["Message-ID"]) == f"<{ack_stored.message_id}>"

    # 2. Assignments: Quentin switched "assigned to me" off, Alice hears.
    ticket_assign(ticket=ticket, actor=manager, assignee=quiet)
    ticket_assign(ticket=ticket, actor=manager, assignee=alice)
    assigned = one(conversation.wait_for(2), alice.email, "assigned to you")
    assert str(assigned.message["Subject"]) == f"[{ticket.number}] assigned to you: Printer on fire"

    # 3. Alice answers in Markdown (a script tag in it), then writes an internal note.
    answer = comment_create(ticket=ticket, actor=alice, body="**Restart** it, please.\n\n<script>alert(1)</script>")
    comment_create(ticket=ticket, actor=alice, body=NOTE, internal=True)
    ticket_transition(ticket=ticket, actor=alice, status=Status.PENDING)
    messages = conversation.wait_for(4)
    answered = [m for m in messages if JANE in m.rcpt_tos and "Auto-Submitted" not in m.message]
    [answered] = answered
    assert sorted(answered.rcpt_tos) == [BOB, JANE]
    assert str(answered.message["Subject"]) == subject
    stored = ThreadMessage.objects.get(comment=answer, direction=Direction.OUT)
    assert str(answered.message["Message-ID"]) == f"<{stored.message_id}>"
    assert str(answered.message["In-Reply-To"]) == first_id
    assert ids(answered.message["References"]) == [first_id, f"<{ack_stored.message_id}>"]
    assert parseaddr(str(answered.message["Reply-To"]))[1] == reply_to
    text, html = parts(answered)
    assert "**Restart** it, please." in text
    assert "<strong>Restart</strong> it, please." in html
    assert "<script" not in html.lower()
    known = {mid(ack), mid(answered)}
    pending = [m for m in messages if JANE in m.rcpt_tos and mid(m) not in known]
    [pending] = pending
    assert str(pending.message["Auto-Submitted"]) == "auto-replied"
    assert str(pending.message["Subject"]) == subject
    assert ThreadMessage.objects.filter(message_id=mid(pending).strip("<>"), ticket=ticket).exists()

    # 4. Jane replies to the message she received (To its Reply-To, In-Reply-To its Message-ID).
    received = answered.message
    status, body = site.inbound(
        token,
        raw_message(
            sender=f"Jane Doe <{JANE}>",
            to=str(received["Reply-To"]),
            subject=f"Re: {received['Subject']}",
            body="Restarted, it works. <script>alert(2)</script>\n\nOn Monday the support team wrote:\n> **Restart** it, please.\n",
            in_reply_to=str(received["Message-ID"]),
            references=f"{received['References']} {received['Message-ID']}",
        ),
    )
    assert (status, body["outcome"], body["ticket"]) == (202, Outcome.APPENDED, ticket.pk), body
    reply = Comment.objects.get(pk=body["comment"])
    assert (reply.author.email, reply.internal, reply.via) == (JANE, False, "email")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN  # the reply took it out of pending
    assert reply.body.strip() == "Restarted, it works. <script>alert(2)</script>"
    replied = one(conversation.wait_for(5), alice.email, "customer reply")
    text, html = parts(replied)
    assert "Restarted, it works. <script>alert(2)</script>" in text
    assert "<script" not in html and "&lt;script&gt;" in html  # the customer's words, escaped

    # 5. Escalated into tier 2: Carol hears, Dave switched it off.
    ticket_escalate(ticket=ticket, actor=alice, to_tier=2, reason="Needs the vendor.")
    one(conversation.wait_for(6), carol.email, "escalated to tier 2")

    # 6. Resolved: the customer hears (automatic).
    ticket_transition(ticket=ticket, actor=carol, status=Status.RESOLVED, resolution="A new *fuser* unit.")
    messages = conversation.wait_for(7)
    known.add(mid(pending))
    resolved = [m for m in messages if JANE in m.rcpt_tos and mid(m) not in known]
    [resolved] = resolved
    assert str(resolved.message["Auto-Submitted"]) == "auto-replied"
    assert "<em>fuser</em>" in parts(resolved)[1]

    # Nothing else left: no message for the internal note, none for Quentin or Dave.
    wait_until(lambda: not Notification.objects.exclude(status=DeliveryStatus.SENT).exists(), "the outbox sent", 20)
    messages = receiver.messages()
    assert len(messages) == 7, [(m.rcpt_tos, str(m.message["Subject"])) for m in messages]
    assert not any(NOTE.encode() in m.raw for m in messages)
    assert not any(a in m.rcpt_tos for m in messages for a in (quiet.email, "dave@agents.example"))

    # 7. A bounce of the resolved message: its row failed, Jane marked as bouncing.
    resolved_id = str(resolved.message["Message-ID"]).strip("<>")
    status, body = site.inbound(token, dsn_for(resolved_id, JANE))
    assert (status, body["outcome"]) == (202, Outcome.IGNORED), body
    row = ThreadMessage.objects.get(message_id=resolved_id).notification
    assert (row.status, row.last_error) == (DeliveryStatus.FAILED, "bounced: 5.1.1")
    jane = User.objects.get(email=JANE)
    assert jane.email_bouncing_since is not None and jane.email_bounce_reason.startswith("5.1.1")
