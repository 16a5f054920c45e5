"""Polling an IMAP mailbox against a real Dovecot: each message once, \\Seen only
after its row committed, the position kept across polls and folder rebuilds,
health recorded for managers (mail.services.polling)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from helpdesk.testing.dovecot import DovecotServer, dovecot_server
from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome, Security
from mail.services import polling
from mail.services.mailboxes import mailbox_create
from mail.tests.factories import raw_message
from tickets.models import Comment, Ticket

pytestmark = [pytest.mark.django_db(transaction=True)]

USER, PASSWORD = "support", "imap-pass-1"


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory) -> Iterator[DovecotServer]:
    with dovecot_server(tmp_path_factory.mktemp("dovecot"), users={USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def mailbox(dovecot, outbound_allow_loopback) -> Mailbox:
    folder = f"poll{timezone.now().timestamp():.6f}".replace(".", "")
    dovecot.create_folder(USER, folder)
    mailbox, _ = mailbox_create(
        name="imap",
        address="support@helpdesk.example",
        kind=MailboxKind.IMAP,
        host=dovecot.host,
        port=dovecot.port,
        security=Security.NONE,
        username=USER,
        password=PASSWORD,
        folder=folder,
    )
    return mailbox


def _append(dovecot, mailbox, n: int, **kwargs) -> list[int]:
    return [
        dovecot.append(
            USER, raw_message(**{"subject": f"Request {i}", "body": f"Body {i}\n", **kwargs}), folder=mailbox.folder
        )
        for i in range(n)
    ]


def test_a_poll_takes_every_new_message_once_and_flags_it_seen(dovecot, mailbox):
    uids = _append(dovecot, mailbox, 5)
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert (result.fetched, result.outcomes, result.error) == (5, {Outcome.CREATED: 5}, "")
    assert Ticket.objects.count() == 5
    assert all("\\Seen" in dovecot.flags(USER, uid, folder=mailbox.folder) for uid in uids)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == max(uids)
    assert mailbox.uidvalidity == dovecot.uidvalidity(USER, folder=mailbox.folder)
    assert (mailbox.last_error, mailbox.consecutive_failures) == ("", 0)
    assert mailbox.last_success_at is not None

    # Nothing new: nothing fetched. A new message: only it.
    assert polling.mailbox_poll(mailbox_id=mailbox.pk).fetched == 0
    _append(dovecot, mailbox, 1)
    assert polling.mailbox_poll(mailbox_id=mailbox.pk).outcomes == {Outcome.CREATED: 1}
    assert Ticket.objects.count() == 6


def test_a_crash_before_the_position_moved_takes_nothing_twice(dovecot, mailbox):
    """As if a worker died after its commits but before \\Seen and last UID: the next
    poll fetches the same messages and their keys answer duplicate."""
    uids = _append(dovecot, mailbox, 3)
    polling.mailbox_poll(mailbox_id=mailbox.pk)
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0)
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert result.outcomes == {Outcome.DUPLICATE: 3}
    assert Ticket.objects.count() == 3 and InboundMessage.objects.count() == 3
    assert all("\\Seen" in dovecot.flags(USER, uid, folder=mailbox.folder) for uid in uids)


def test_a_rebuilt_folder_starts_over_without_taking_anything_twice(dovecot, mailbox):
    _append(dovecot, mailbox, 2, message_id="")
    polling.mailbox_poll(mailbox_id=mailbox.pk)
    raws = [raw_message(subject="Request 0", message_id="<again@customer.example>")]
    dovecot.delete_folder(USER, mailbox.folder)
    dovecot.create_folder(USER, mailbox.folder)
    dovecot.append(USER, raws[0], folder=mailbox.folder)
    dovecot.append(USER, raws[0], folder=mailbox.folder)  # the same message twice in the new folder
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert result.outcomes == {Outcome.CREATED: 1, Outcome.DUPLICATE: 1}
    mailbox.refresh_from_db()
    assert mailbox.uidvalidity == dovecot.uidvalidity(USER, folder=mailbox.folder)


def test_replies_in_the_mailbox_land_on_their_tickets(dovecot, mailbox):
    dovecot.append(USER, raw_message(message_id="<first@customer.example>"), folder=mailbox.folder)
    polling.mailbox_poll(mailbox_id=mailbox.pk)
    ticket = Ticket.objects.get()
    dovecot.append(
        USER,
        raw_message(subject="Re: Printer", in_reply_to="<first@customer.example>", body="Still broken.\n"),
        folder=mailbox.folder,
    )
    assert polling.mailbox_poll(mailbox_id=mailbox.pk).outcomes == {Outcome.APPENDED: 1}
    assert Comment.objects.get(ticket=ticket).body == "Still broken."


def test_a_message_over_the_limit_stays_on_the_server_and_is_named(dovecot, mailbox, settings):
    settings.HELPDESK_MAIL_MAX_BYTES = 2000
    (uid,) = _append(dovecot, mailbox, 1, body="x" * 5000)
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert result.outcomes == {Outcome.QUARANTINED: 1}
    row = InboundMessage.objects.get()
    assert row.outcome == Outcome.QUARANTINED and f"UID {uid}" in row.reason
    assert Ticket.objects.count() == 0


def test_a_failing_poll_is_recorded_for_managers(dovecot, mailbox):
    Mailbox.objects.filter(pk=mailbox.pk).update(password="wrong")
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert result.error.startswith("login failed")
    mailbox.refresh_from_db()
    assert mailbox.last_error.startswith("login failed") and mailbox.consecutive_failures == 1
    assert "wrong" not in mailbox.last_error


def test_the_dispatcher_claims_each_due_mailbox_once(mailbox, settings):
    now = timezone.now()
    assert polling.mailboxes_dispatch_due(now=now) == [mailbox.pk]
    assert polling.mailboxes_dispatch_due(now=now) == []
    mailbox.refresh_from_db()
    assert (mailbox.next_poll_at - now).total_seconds() == mailbox.poll_interval_seconds


def test_an_unexpected_fault_while_taking_a_message_is_shown_and_retried(dovecot, mailbox, monkeypatch):
    (uid,) = _append(dovecot, mailbox, 1)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(polling, "mail_ingest", broken)
    result = polling.mailbox_poll(mailbox_id=mailbox.pk)
    assert "RuntimeError" in result.error
    mailbox.refresh_from_db()
    assert "RuntimeError" in mailbox.last_error and mailbox.consecutive_failures == 1
    assert "\\Seen" not in dovecot.flags(USER, uid, folder=mailbox.folder)
    monkeypatch.undo()
    assert polling.mailbox_poll(mailbox_id=mailbox.pk).outcomes == {Outcome.CREATED: 1}
    assert "\\Seen" in dovecot.flags(USER, uid, folder=mailbox.folder)
