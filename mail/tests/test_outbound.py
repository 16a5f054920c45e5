"""Mail out: what customers and agents are sent, written into the outbox with the
change, threaded (docs/EMAIL.md "Mail out")."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.core import mail as django_mail

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from mail.models import Direction, MailThread, ThreadMessage
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory, raw_message
from notifications.delivery import notification_deliver
from notifications.models import Notification
from tickets import services
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings):
    settings.HELPDESK_EMAIL_FROM = "Acme Support <noreply@helpdesk.example>"
    return MailboxFactory(address="support0@helpdesk.example")


@pytest.fixture
def agent():
    return UserFactory(role=Role.L1, email="agent@helpdesk.example", first_name="Ada", last_name="Agent")


def _ticket_by_mail(mailbox, **kwargs) -> Ticket:
    result = mail_ingest(mailbox=mailbox, raw=raw_message(message_id="<ask@customer.example>", **kwargs))
    return Ticket.objects.get(pk=result.ticket)


def _deliver_all() -> list:
    django_mail.outbox.clear()
    for pk in Notification.objects.filter(status="pending").values_list("pk", flat=True):
        notification_deliver(notification_id=pk)
    return [email.message_from_bytes(m.message().as_bytes(), policy=email.policy.default) for m in django_mail.outbox]


def _to(messages, address):
    return [m for m in messages if address in str(m["To"])]


def test_a_new_ticket_by_mail_is_acknowledged_with_its_number(mailbox):
    ticket = _ticket_by_mail(mailbox)
    (ack,) = _deliver_all()
    token = MailThread.objects.get(ticket=ticket).token
    assert ack["Subject"] == f"[{ticket.number}] Printer on fire"
    assert ack["To"] == "jane@customer.example"
    assert ack["From"].addresses[0].addr_spec == "support0@helpdesk.example"
    assert ack["Reply-To"].addresses[0].addr_spec == f"support0+{token}@helpdesk.example"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<ask@customer.example>"
    stored = ThreadMessage.objects.get(ticket=ticket, direction=Direction.OUT)
    assert ack["Message-ID"] == f"<{stored.message_id}>"
    assert ticket.number in ack.get_body(("plain",)).get_content()
    assert ticket.number in ack.get_body(("html",)).get_content()


def test_a_mailbox_may_switch_acknowledgements_off(mailbox):
    mailbox.acknowledge = False
    mailbox.save()
    _ticket_by_mail(mailbox)
    assert _deliver_all() == []


def test_a_public_agent_comment_reaches_the_requester_and_ccs_and_an_internal_note_does_not(mailbox, agent):
    ticket = _ticket_by_mail(mailbox, cc="bob@customer.example")
    _deliver_all()
    services.comment_create(ticket=ticket, actor=agent, body="Please **restart** it.\n\n<script>x</script>")
    services.comment_create(ticket=ticket, actor=agent, body="Internal: it is the fuser.", internal=True)
    (reply,) = _deliver_all()
    assert reply["To"] == "jane@customer.example"
    assert reply["Cc"] == "bob@customer.example"
    assert "Auto-Submitted" not in reply
    assert reply["In-Reply-To"] == "<ask@customer.example>"
    assert "<ask@customer.example>" in reply["References"]
    text = reply.get_body(("plain",)).get_content()
    html = reply.get_body(("html",)).get_content()
    assert "Please **restart** it." in text and "Ada Agent" in text
    assert "<strong>restart</strong>" in html and "<script>" not in html
    assert "fuser" not in text + html


def test_the_customers_reply_threads_back_and_the_next_answer_chains_it(mailbox, agent):
    ticket = _ticket_by_mail(mailbox)
    services.comment_create(ticket=ticket, actor=agent, body="Which model?")
    _, answer = sorted(_deliver_all(), key=lambda m: "Auto-Submitted" in m)[::-1]
    reply = raw_message(
        to=str(answer["Reply-To"]),
        subject=f"Re: {answer['Subject']}",
        in_reply_to=answer["Message-ID"],
        message_id="<reply@customer.example>",
        body="An LX-200.\n\nOn Mon, Ada wrote:\n> Which model?\n",
    )
    result = mail_ingest(mailbox=mailbox, raw=reply)
    assert (result.outcome, result.ticket) == ("appended", ticket.pk)
    services.comment_create(ticket=ticket, actor=agent, body="Thanks.")
    (thanks,) = [m for m in _deliver_all() if "Thanks." in m.get_body(("plain",)).get_content()]
    assert thanks["In-Reply-To"] == "<reply@customer.example>"
    assert thanks["References"].split()[0] == "<ask@customer.example>"


def test_pending_and_resolved_tell_the_customer(mailbox, agent, settings):
    settings.HELPDESK_REOPEN_DAYS = 9
    ticket = _ticket_by_mail(mailbox)
    services.ticket_claim(ticket=ticket, actor=agent)
    _deliver_all()
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.PENDING)
    (pending,) = _deliver_all()
    assert "waiting for you" in pending.get_body(("plain",)).get_content()
    assert pending["Auto-Submitted"] == "auto-replied"
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.OPEN)
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.RESOLVED, resolution="Replaced the fuser.")
    (resolved,) = _deliver_all()
    body = resolved.get_body(("plain",)).get_content()
    assert "Replaced the fuser." in body and "9 days" in body


def test_without_a_mailbox_nobody_is_mailed(agent):
    customer = UserFactory(role=Role.CUSTOMER, email="c@customer.example")
    ticket = services.ticket_create(actor=agent, requester=customer, title="Phone call")
    services.comment_create(ticket=ticket, actor=agent, body="Done.")
    assert _deliver_all() == []
    assert not MailThread.objects.exists()


def test_tickets_opened_by_agents_are_acknowledged_through_the_default_mailbox(mailbox, agent):
    customer = UserFactory(role=Role.CUSTOMER, email="c@customer.example")
    ticket = services.ticket_create(actor=agent, requester=customer, title="Phone call")
    (ack,) = _deliver_all()
    assert ack["To"] == "c@customer.example" and ack["Subject"] == f"[{ticket.number}] Phone call"


def test_agents_hear_of_assignments_customer_replies_and_escalations(mailbox, agent):
    l2 = UserFactory(role=Role.L2, email="l2@helpdesk.example")
    quiet_l2 = UserFactory(role=Role.L2, email="quiet@helpdesk.example", notify_escalated=False)
    manager = UserFactory(role=Role.MANAGER, email="boss@helpdesk.example")
    ticket = _ticket_by_mail(mailbox)
    _deliver_all()

    services.ticket_assign(ticket=ticket, actor=manager, assignee=agent)
    assigned = _to(_deliver_all(), "agent@helpdesk.example")
    assert [m["Subject"] for m in assigned] == [f"[{ticket.number}] assigned to you: Printer on fire"]

    mail_ingest(mailbox=mailbox, raw=raw_message(subject=f"Re: [{ticket.number}] x", body="More smoke."))
    replied = _to(_deliver_all(), "agent@helpdesk.example")
    assert len(replied) == 1 and "More smoke." in replied[0].get_body(("plain",)).get_content()

    services.ticket_escalate(ticket=ticket, actor=agent, to_tier=2, reason="Hardware")
    escalated = _deliver_all()
    assert [str(m["To"]) for m in escalated] == [l2.email]
    assert quiet_l2.email not in str([m["To"] for m in escalated])
    assert "Hardware" in escalated[0].get_body(("plain",)).get_content()


def test_an_agent_who_switched_assignments_off_hears_nothing(mailbox, agent):
    agent.notify_assigned = False
    agent.save()
    manager = UserFactory(role=Role.MANAGER, email="boss@helpdesk.example")
    ticket = _ticket_by_mail(mailbox)
    _deliver_all()
    services.ticket_assign(ticket=ticket, actor=manager, assignee=agent)
    assert _to(_deliver_all(), "agent@helpdesk.example") == []


def test_a_bounce_marks_the_message_failed_and_the_requester_bouncing(mailbox):
    ticket = _ticket_by_mail(mailbox)
    (ack,) = _deliver_all()
    dsn = (
        "From: MAILER-DAEMON@mx.customer.example\r\n"
        "To: support0@helpdesk.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.customer.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        "Final-Recipient: rfc822; jane@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack['Message-ID']}\r\nSubject: {ack['Subject']}\r\n"
        "--b--\r\n"
    ).encode()
    result = mail_ingest(mailbox=mailbox, raw=dsn)
    assert result.outcome == "ignored" and "5.1.1" in result.reason
    sent = ThreadMessage.objects.get(ticket=ticket, direction=Direction.OUT).notification
    assert (sent.status, sent.last_error) == ("failed", "bounced: 5.1.1")
    ticket.requester.refresh_from_db()
    assert ticket.requester.email_bouncing_since is not None
    assert ticket.events.filter(kind="notification_failed").count() == 1
    # The same report again changes nothing.
    assert mail_ingest(mailbox=mailbox, raw=dsn).outcome == "duplicate"


def test_assignment_mail_reads_people_and_tickets_once_whatever_the_batch(mailbox, django_assert_num_queries):
    from mail.services import outbound

    manager = UserFactory(role=Role.MANAGER, email="boss@helpdesk.example")
    agents = [UserFactory(role=Role.L1, email=f"a{i}@helpdesk.example") for i in range(5)]
    tickets = [services.ticket_create(actor=manager, requester=manager, title=f"T{i}") for i in range(5)]
    rows = [(t.pk, manager.pk, {"after": {"assignee": a.pk}}) for t, a in zip(tickets, agents, strict=True)]
    # People (assignees and who assigned) in one query, tickets in one, the outbox insert in one.
    with django_assert_num_queries(3):
        outbound.on_assigned(rows)
    with django_assert_num_queries(3):
        outbound.on_assigned(rows[:1])
    assert Notification.objects.filter(subject__contains="assigned to you").count() == 6
