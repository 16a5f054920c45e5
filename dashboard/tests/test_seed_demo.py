"""seed_demo's mail: the http mailbox and the demo conversation, taken once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome
from mail.services import mailboxes
from tickets.models import Comment, Via

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_makes_the_support_mailbox_and_takes_each_demo_mail_once():
    first = seed()
    box = Mailbox.objects.get(name="support")
    assert box.kind == MailboxKind.HTTP and box.address == "support@helpdesk.localhost"
    outcomes = sorted(InboundMessage.objects.filter(mailbox=box).values_list("outcome", flat=True))
    assert outcomes == [Outcome.APPENDED, Outcome.CREATED, Outcome.CREATED, Outcome.IGNORED]
    reply = InboundMessage.objects.get(mailbox=box, outcome=Outcome.APPENDED)
    comment = Comment.objects.get(pk=reply.comment_id)
    assert comment.via == Via.EMAIL and not comment.internal and comment.author.username == "customer"
    assert Comment.objects.filter(ticket=reply.ticket, internal=False, author__username="l1").exists()
    cc_ticket = InboundMessage.objects.get(mailbox=box, subject="Access for my colleague Dana").ticket
    assert list(cc_ticket.ccs.values_list("email", flat=True)) == ["dana@customer.example"]
    assert "mail_ingest --mailbox support < docs/examples/hello.eml" in first
    token = first.split("shown only here): ")[1].split()[0]
    assert mailboxes.mailbox_for_token(token) == box
    assert f"Authorization: Bearer {token}" in first

    counts = (InboundMessage.objects.count(), Comment.objects.count(), Mailbox.objects.count())
    second = seed()
    assert (InboundMessage.objects.count(), Comment.objects.count(), Mailbox.objects.count()) == counts
    assert "a new request: duplicate" in second
    new_token = second.split("shown only here): ")[1].split()[0]
    assert mailboxes.mailbox_for_token(token) is None and mailboxes.mailbox_for_token(new_token) == box
