"""Inside one poll the mailboxes are read once (mail.services.addresses.mailboxes_remembered)."""

from __future__ import annotations

import pytest

from mail.models import MailThread
from mail.services import addresses
from mail.tests.factories import MailboxFactory
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_own_addresses_and_ticket_mailbox_ask_the_database_once_per_poll(django_assert_num_queries):
    first = MailboxFactory(address="help@helpdesk.example")
    MailboxFactory(address="billing@helpdesk.example", enabled=False)
    thread = MailThread.objects.create(ticket=TicketFactory(), token="t" * 22, mailbox=first)
    thread = MailThread.objects.select_related("ticket").get(pk=thread.pk)  # the mailbox not loaded
    with django_assert_num_queries(1), addresses.mailboxes_remembered():
        for _ in range(3):
            assert addresses.is_own_address("Help+abc@helpdesk.example")
            assert addresses.is_own_address("billing@helpdesk.example")
            assert not addresses.is_own_address("jane@customer.example")
            assert addresses.mailbox_addresses() == ["help@helpdesk.example", "billing@helpdesk.example"]
            assert addresses.ticket_mailbox(thread.ticket, thread) == (thread, first)
    orphan = MailThread.objects.create(ticket=TicketFactory(), token="u" * 22, mailbox=None)
    orphan = MailThread.objects.select_related("ticket").get(pk=orphan.pk)
    with django_assert_num_queries(1), addresses.mailboxes_remembered():
        assert addresses.ticket_mailbox(orphan.ticket, orphan) == (orphan, first)  # the first enabled mailbox


def test_outside_a_poll_every_question_reads_the_mailboxes_afresh(django_assert_num_queries):
    MailboxFactory(address="help@helpdesk.example")
    with addresses.mailboxes_remembered():
        MailboxFactory(address="new@helpdesk.example")
        assert not addresses.is_own_address("new@helpdesk.example")  # counts from the next poll on
    with django_assert_num_queries(2):
        assert addresses.is_own_address("new@helpdesk.example")
        assert addresses.is_own_address("help@helpdesk.example")
