"""The one ingest path: what each message becomes, once (docs/EMAIL.md "Outcomes")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.errors import Conflict
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from mail.imap import Fetched
from mail.models import InboundMessage, MailThread, Outcome, ThreadMessage
from mail.services import addresses, polling
from mail.services.ingest import ignored_raw_purge, mail_ingest, quarantine_discard, quarantine_retry
from mail.tests.factories import MailboxFactory, raw_message
from tickets.models import Comment, Status, Ticket, TicketCc, Via
from tickets.tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox():
    return MailboxFactory(address="support0@helpdesk.example", urgency="high", impact="low")


def _new_ticket(mailbox, **kwargs) -> Ticket:
    result = mail_ingest(mailbox=mailbox, raw=raw_message(**kwargs))
    assert result.outcome == Outcome.CREATED, result
    return Ticket.objects.get(pk=result.ticket)


def _reply_address(ticket: Ticket) -> str:
    token = MailThread.objects.get(ticket=ticket).token
    return f"support0+{token}@helpdesk.example"


def test_a_new_message_opens_a_ticket_with_the_mailbox_defaults(mailbox):
    category = CategoryFactory()
    mailbox.category = category
    mailbox.save()
    ticket = _new_ticket(
        mailbox,
        subject="  VPN   down ",
        body="Since 9:00.\n",
        cc="Bob <bob@customer.example>, support0@helpdesk.example",
    )
    assert ticket.title == "VPN down"
    assert ticket.description.strip() == "Since 9:00."
    assert (ticket.urgency, ticket.impact, ticket.category_id, ticket.tier) == ("high", "low", category.pk, 1)
    assert ticket.requester.email == "jane@customer.example"
    assert ticket.requester.get_full_name() == "Jane Doe"
    assert ticket.requester.role == Role.CUSTOMER
    # Copies go to the other recipients, never to our own address.
    assert list(TicketCc.objects.filter(ticket=ticket).values_list("email", flat=True)) == ["bob@customer.example"]
    cc_event = ticket.events.get(kind="cc_changed")
    assert (cc_event.actor, cc_event.data["after"]) == (ticket.requester, {"cc": ["bob@customer.example"]})
    assert MailThread.objects.get(ticket=ticket).mailbox == mailbox
    assert ThreadMessage.objects.filter(ticket=ticket, direction="in").count() == 1


def test_the_same_message_twice_is_taken_once(mailbox):
    raw = raw_message(message_id="<once@customer.example>")
    first = mail_ingest(mailbox=mailbox, raw=raw)
    second = mail_ingest(mailbox=mailbox, raw=raw)
    assert first.outcome == Outcome.CREATED
    assert (second.outcome, second.ticket) == (Outcome.DUPLICATE, first.ticket)
    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_without_message_id_the_raw_bytes_decide(mailbox):
    raw = raw_message(message_id=None)
    assert mail_ingest(mailbox=mailbox, raw=raw).outcome == Outcome.CREATED
    assert mail_ingest(mailbox=mailbox, raw=raw).outcome == Outcome.DUPLICATE
    assert InboundMessage.objects.get().message_key.startswith("sha256:")
    # Different bytes, no Message-ID: another message.
    assert mail_ingest(mailbox=mailbox, raw=raw_message(message_id=None, body="Other")).outcome == Outcome.CREATED


def test_the_same_message_id_in_another_mailbox_is_another_message(mailbox):
    raw = raw_message(message_id="<shared@customer.example>")
    other = MailboxFactory(address="sales@helpdesk.example")
    assert mail_ingest(mailbox=mailbox, raw=raw).outcome == Outcome.CREATED
    assert mail_ingest(mailbox=other, raw=raw).outcome == Outcome.CREATED


def test_a_reply_to_the_reply_address_becomes_a_public_comment(mailbox):
    ticket = _new_ticket(mailbox)
    result = mail_ingest(
        mailbox=mailbox,
        raw=raw_message(to=_reply_address(ticket), subject="Re: whatever", body="Still smoking.\n"),
    )
    assert (result.outcome, result.ticket, result.reason) == (Outcome.APPENDED, ticket.pk, "reply token")
    comment = Comment.objects.get(pk=result.comment)
    assert (comment.body, comment.internal, comment.via) == ("Still smoking.", False, Via.EMAIL)
    assert comment.author == ticket.requester


def test_a_reply_found_by_references(mailbox):
    ticket = _new_ticket(mailbox, message_id="<first@customer.example>")
    result = mail_ingest(
        mailbox=mailbox,
        raw=raw_message(subject="Re: something else", references="<unknown@x> <first@customer.example>"),
    )
    assert (result.outcome, result.ticket, result.reason) == (Outcome.APPENDED, ticket.pk, "references")


def test_a_reply_found_by_subject_only_from_the_requester_or_a_cc(mailbox):
    ticket = _new_ticket(mailbox, cc="bob@customer.example")
    subject = f"Re: [{ticket.number}] Printer on fire"
    by_requester = mail_ingest(mailbox=mailbox, raw=raw_message(subject=subject))
    by_cc = mail_ingest(mailbox=mailbox, raw=raw_message(subject=subject, sender="bob@customer.example"))
    by_stranger = mail_ingest(mailbox=mailbox, raw=raw_message(subject=subject, sender="eve@elsewhere.example"))
    assert (by_requester.outcome, by_requester.ticket) == (Outcome.APPENDED, ticket.pk)
    assert (by_cc.outcome, by_cc.ticket) == (Outcome.APPENDED, ticket.pk)
    assert Comment.objects.get(pk=by_cc.comment).author.email == "bob@customer.example"
    # A ticket number anyone can type is not enough: a stranger opens a ticket of their own.
    assert by_stranger.outcome == Outcome.CREATED and by_stranger.ticket != ticket.pk


def test_a_stranger_on_the_thread_writes_an_internal_note_not_a_comment(mailbox):
    ticket = _new_ticket(mailbox)
    result = mail_ingest(
        mailbox=mailbox, raw=raw_message(to=_reply_address(ticket), sender="Eve <eve@elsewhere.example>", body="Hi")
    )
    assert (result.outcome, result.ticket) == (Outcome.APPENDED, ticket.pk)
    note = Comment.objects.get(pk=result.comment)
    assert note.internal and note.via == Via.EMAIL
    assert note.body.startswith("From an unknown sender, Eve <eve@elsewhere.example>")
    assert note.author.username != "eve@elsewhere.example"
    assert "unknown sender" in result.reason


def test_a_reply_reopens_a_resolved_ticket(mailbox):
    ticket = _new_ticket(mailbox)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED, resolved_at=timezone.now())
    mail_ingest(mailbox=mailbox, raw=raw_message(to=_reply_address(ticket), body="Not fixed"))
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_a_reply_long_after_the_resolution_opens_a_follow_up(mailbox, settings):
    settings.HELPDESK_REOPEN_DAYS = 14
    ticket = _new_ticket(mailbox)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED, resolved_at=timezone.now() - timedelta(days=15))
    result = mail_ingest(mailbox=mailbox, raw=raw_message(to=_reply_address(ticket), body="Again"))
    assert result.outcome == Outcome.CREATED
    follow_up = Ticket.objects.get(pk=result.ticket)
    assert follow_up.follows_id == ticket.pk
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(mailbox):
    ticket = _new_ticket(mailbox)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED, closed_at=timezone.now())
    result = mail_ingest(mailbox=mailbox, raw=raw_message(to=_reply_address(ticket), body="Again"))
    assert result.outcome == Outcome.CREATED
    assert Ticket.objects.get(pk=result.ticket).follows_id == ticket.pk
    assert result.reason == f"follows {ticket.number}"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
        ({"Precedence": "bulk"}, "precedence"),
        ({"X-Autoreply": "yes"}, "x-autoreply"),
    ],
)
def test_automatic_mail_is_ignored(mailbox, headers, why):
    result = mail_ingest(mailbox=mailbox, raw=raw_message(headers=headers))
    assert result.outcome == Outcome.IGNORED
    assert why in result.reason
    assert Ticket.objects.count() == 0
    assert InboundMessage.objects.get().outcome == Outcome.IGNORED


def test_our_own_mail_is_ignored(mailbox, settings):
    settings.HELPDESK_EMAIL_FROM = "Helpdesk <noreply@helpdesk.example>"
    for sender in ("support0@helpdesk.example", "support0+abc@helpdesk.example", "noreply@helpdesk.example"):
        result = mail_ingest(mailbox=mailbox, raw=raw_message(sender=sender))
        assert (result.outcome, result.reason) == (Outcome.IGNORED, "our own mail")
    assert Ticket.objects.count() == 0


def test_a_sender_over_the_hourly_limit_is_ignored(mailbox, settings):
    settings.HELPDESK_MAIL_MAX_PER_SENDER_HOUR = 3
    outcomes = [mail_ingest(mailbox=mailbox, raw=raw_message(body=f"{i}")).outcome for i in range(5)]
    assert outcomes == [Outcome.CREATED] * 3 + [Outcome.IGNORED] * 2
    # Another sender is not affected.
    assert mail_ingest(mailbox=mailbox, raw=raw_message(sender="bob@customer.example")).outcome == Outcome.CREATED


def test_unreadable_bytes_are_quarantined_and_kept(mailbox):
    raw = b"\x00\xff\xfe garbage without headers \x00"
    result = mail_ingest(mailbox=mailbox, raw=raw)
    assert result.outcome == Outcome.QUARANTINED
    stored = InboundMessage.objects.get()
    assert bytes(stored.raw) == raw
    assert stored.reason.startswith("cannot be read")
    # Sent again: the same bytes are the same message.
    assert mail_ingest(mailbox=mailbox, raw=raw).outcome == Outcome.DUPLICATE


def test_addresses_longer_than_smtp_carries_are_not_addresses(mailbox):
    """Over 254 characters no address column holds it (it made a DataError, a 500 at
    the inbound endpoint and a poll stuck on the message): a From of that length is
    no usable sender, a Cc of that length is left out."""
    long_address = "x" * 250 + "@customer.example"

    def raw(sender: str, cc: str, message_id: str) -> bytes:
        return (
            f"From: {sender}\r\nTo: support0@helpdesk.example\r\nCc: {cc}\r\nSubject: Long\r\n"
            f"Message-ID: <{message_id}@customer.example>\r\n\r\nHello.\r\n"
        ).encode()

    quarantined = mail_ingest(mailbox=mailbox, raw=raw(long_address, "bob@customer.example", "long-from"))
    assert (quarantined.outcome, quarantined.reason) == (
        Outcome.QUARANTINED,
        "cannot be read: The message has no usable From address.",
    )
    created = mail_ingest(
        mailbox=mailbox, raw=raw("jane@customer.example", f"{long_address}, Bob <bob@customer.example>", "long-cc")
    )
    assert created.outcome == Outcome.CREATED, created
    assert list(TicketCc.objects.filter(ticket_id=created.ticket).values_list("email", flat=True)) == [
        "bob@customer.example"
    ]


def test_a_message_from_a_deactivated_account_is_quarantined_then_retried(mailbox):
    user = UserFactory(email="gone@customer.example", role=Role.CUSTOMER, is_active=False)
    raw = raw_message(sender="gone@customer.example")
    result = mail_ingest(mailbox=mailbox, raw=raw)
    assert result.outcome == Outcome.QUARANTINED
    assert "inactive" in result.reason
    assert Ticket.objects.count() == 0
    user.is_active = True
    user.save()
    retried = quarantine_retry(message=InboundMessage.objects.get())
    assert retried.outcome == Outcome.CREATED
    assert InboundMessage.objects.get().outcome == Outcome.CREATED


def test_a_message_left_on_the_imap_server_cannot_be_retried_from_here(mailbox, api, manager):
    """Too large to fetch, it has no bytes here: a retry used to replace its row with an
    "empty message" quarantine (and a second such retry dropped the row as a duplicate
    of the first), so the message on the server was forgotten for good."""
    now = timezone.now()
    for uid in (7, 8):
        polling._too_large(mailbox, 42, Fetched(uid=uid, raw=None, size=50 * 2**20), now)
    first, second = InboundMessage.objects.order_by("id")
    with pytest.raises(Conflict):
        quarantine_retry(message=first)
    response = api.as_(manager).post(f"/api/v1/mail/quarantine/{second.pk}/retry/")
    assert response.status_code == 409, response.content
    assert "UID 8" in response.json()["detail"]
    rows = list(InboundMessage.objects.order_by("id").values_list("message_key", "outcome", "reason"))
    assert rows == [
        ("imap:42:7", Outcome.QUARANTINED, first.reason),
        ("imap:42:8", Outcome.QUARANTINED, second.reason),
    ]


def test_discarding_a_quarantined_message_drops_its_bytes(mailbox):
    mail_ingest(mailbox=mailbox, raw=b"\x00garbage")
    message = InboundMessage.objects.get()
    assert quarantine_discard(message=message)
    message.refresh_from_db()
    assert (message.outcome, message.raw) == (Outcome.IGNORED, None)
    assert not quarantine_discard(message=message)


def test_attachments_land_on_a_comment_and_refused_ones_are_named(mailbox, settings):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    ticket = _new_ticket(
        mailbox,
        attachments=[("screen.png", "image/png", png), ("tool.exe", "application/octet-stream", b"MZ" + b"\x00" * 10)],
    )
    comments = list(Comment.objects.filter(ticket=ticket).order_by("id"))
    public, note = comments
    assert not public.internal and [a.name for a in public.attachments.all()] == ["screen.png"]
    assert note.internal and "tool.exe" in note.body


def test_the_reply_token_is_unguessable_and_unique_per_ticket(mailbox):
    first, second = _new_ticket(mailbox), _new_ticket(mailbox, body="other")
    tokens = {MailThread.objects.get(ticket=t).token for t in (first, second)}
    assert len(tokens) == 2
    assert all(len(t) >= 20 for t in tokens)
    assert addresses.is_own_address(_reply_address(first))


def test_ignored_messages_drop_their_bytes_after_the_keep_period(mailbox, settings):
    settings.HELPDESK_MAIL_KEEP_IGNORED_DAYS = 30
    mail_ingest(mailbox=mailbox, raw=raw_message(headers={"Auto-Submitted": "auto-replied"}))
    kept = _new_ticket(mailbox, body="a real one")
    assert ignored_raw_purge(now=timezone.now() + timedelta(days=29)) == 0
    assert ignored_raw_purge(now=timezone.now() + timedelta(days=31)) == 1
    ignored = InboundMessage.objects.get(outcome=Outcome.IGNORED)
    assert ignored.raw is None and ignored.reason
    assert InboundMessage.objects.get(ticket=kept).raw is not None
