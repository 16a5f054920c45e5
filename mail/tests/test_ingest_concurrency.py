"""Concurrent deliveries of one message (two pollers, a re-sent POST racing the
first): the unique key makes one of them take it, the others answer duplicate."""

from __future__ import annotations

import pytest

from helpdesk.testing.threads import run_in_threads
from mail.models import InboundMessage, MailThread, Outcome
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory, raw_message
from tickets.models import Comment, Ticket

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_racing_deliveries_of_a_new_message_make_one_ticket():
    mailbox = MailboxFactory()
    raw = raw_message(message_id="<race@customer.example>")
    results = run_in_threads(6, lambda i: mail_ingest(mailbox=mailbox, raw=raw))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == [Outcome.CREATED] + [Outcome.DUPLICATE] * 5
    assert Ticket.objects.count() == 1 and InboundMessage.objects.count() == 1
    assert {r.ticket for r in results} == {Ticket.objects.get().pk}


def test_racing_deliveries_of_a_reply_make_one_comment():
    mailbox = MailboxFactory(address="support0@helpdesk.example")
    first = mail_ingest(mailbox=mailbox, raw=raw_message())
    token = MailThread.objects.get(ticket_id=first.ticket).token
    reply = raw_message(to=f"support0+{token}@helpdesk.example", message_id="<reply-race@customer.example>")
    results = run_in_threads(6, lambda i: mail_ingest(mailbox=mailbox, raw=reply))
    assert sorted(r.outcome for r in results) == [Outcome.APPENDED] + [Outcome.DUPLICATE] * 5
    assert Comment.objects.filter(ticket_id=first.ticket).count() == 1
