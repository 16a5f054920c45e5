"""The original message of a ticket's e-mail (docs/EMAIL.md "Original messages"):
the agents-only .eml download and its links on the ticket page's timeline."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk.tests.pages import assert_csp_clean
from mail.models import InboundMessage, MailThread, Outcome
from mail.services.ingest import mail_ingest, quarantine_discard
from mail.tests.factories import MailboxFactory, raw_message
from tickets import services
from tickets.models import Comment, Ticket, Via

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def mailbox():
    return MailboxFactory(address="support0@helpdesk.example")


@pytest.fixture
def conversation(mailbox):
    """A ticket opened by mail and a reply to it: (ticket, opening message, reply message, reply comment)."""
    opened = mail_ingest(mailbox=mailbox, raw=raw_message(subject="VPN down", body="Since 9:00.\n"))
    assert opened.outcome == Outcome.CREATED
    ticket = Ticket.objects.get(pk=opened.ticket)
    token = MailThread.objects.get(ticket=ticket).token
    reply = mail_ingest(
        mailbox=mailbox,
        raw=raw_message(to=f"support0+{token}@helpdesk.example", subject="Re: VPN down", body="Still down.\n"),
    )
    assert reply.outcome == Outcome.APPENDED and reply.comment
    return ticket, opened.message, reply.message, reply.comment


def original_url(message_id: int) -> str:
    return f"/mail/messages/{message_id}/original/"


def test_agents_download_the_original_as_an_eml_attachment(conversation, l1):
    ticket, opening, reply, _ = conversation
    response = client_for(l1).get(original_url(reply))
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="{ticket.number}-message-{reply}.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response["Cache-Control"]
    assert response.content == bytes(InboundMessage.objects.get(pk=reply).raw)
    assert b"Still down." in response.content
    assert client_for(l1).get(original_url(opening)).status_code == 200


def test_nobody_else_gets_it(conversation, mailbox, customer, manager, settings):
    ticket, opening, reply, _ = conversation
    requester = ticket.requester
    for user in (requester, customer):
        assert client_for(user).get(original_url(reply)).status_code == 404
    anonymous = client_for(None).get(original_url(reply))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # Missing, on no ticket (ignored, quarantined), or its bytes gone: 404 for agents too.
    assert client_for(manager).get(original_url(reply + 1000)).status_code == 404
    ignored = mail_ingest(mailbox=mailbox, raw=raw_message(headers={"Auto-Submitted": "auto-replied"}))
    assert ignored.outcome == Outcome.IGNORED
    assert client_for(manager).get(original_url(ignored.message)).status_code == 404
    settings.HELPDESK_MAIL_MAX_BYTES = 100
    quarantined = mail_ingest(mailbox=mailbox, raw=raw_message(body="x" * 200))
    assert quarantined.outcome == Outcome.QUARANTINED
    assert client_for(manager).get(original_url(quarantined.message)).status_code == 404  # the managers' page
    quarantine_discard(message=InboundMessage.objects.get(pk=quarantined.message))
    assert client_for(manager).get(original_url(quarantined.message)).status_code == 404
    InboundMessage.objects.filter(pk=reply).update(raw=None)
    assert client_for(manager).get(original_url(reply)).status_code == 404
    assert client_for(manager).get("/mail/messages/99999999999999999999/original/").status_code == 404


def test_the_timeline_links_mail_to_its_original_for_agents_only(conversation, l1):
    ticket, opening, reply, comment_id = conversation
    services.comment_create(ticket=ticket, actor=l1, body="Typed on the page")
    response = client_for(l1).get(f"/tickets/{ticket.pk}/")
    page = response.content.decode()
    assert_csp_clean(response)
    assert page.count("via e-mail") == 1  # the reply; the agent's comment came from the page
    assert f'href="{original_url(reply)}" download' in page  # on the reply's entry
    assert f'href="{original_url(opening)}" download' in page  # on "Ticket created by e-mail"
    assert Comment.objects.get(pk=comment_id).via == Via.EMAIL
    customer_page = client_for(ticket.requester).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "via e-mail" in customer_page and "/mail/messages/" not in customer_page


def test_the_links_cost_one_query_whatever_the_conversation(mailbox, l1):
    counts = {}
    for replies in (1, 12):
        opened = mail_ingest(mailbox=mailbox, raw=raw_message(subject=f"Thread {replies}"))
        ticket = Ticket.objects.get(pk=opened.ticket)
        token = MailThread.objects.get(ticket=ticket).token
        for i in range(replies):
            mail_ingest(mailbox=mailbox, raw=raw_message(to=f"support0+{token}@helpdesk.example", body=f"reply {i}\n"))
        client = client_for(l1)
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(f"/tickets/{ticket.pk}/").content.decode()
        assert page.count("/mail/messages/") == replies + 1
        counts[replies] = len(ctx.captured_queries)
    assert counts[1] == counts[12], counts
