"""Every corpus message (mail/tests/corpus/README.md) through the one ingest path,
``mail_ingest``, as a poll or the inbound endpoint would hand it over: each lands
(created or appended), is ignored or quarantined, none raises; what became of
each file is asserted exactly, with its ticket's title, requester and attachments.
And the 25 MB message (generated here, not committed) with its 24 MB attachment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mail.models import InboundMessage, MailThread, Outcome
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory, raw_message
from tickets.models import Attachment, Comment, Ticket

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).parent / "corpus"
MAILBOX = "support@helpdesk.example"
# Reply tokens the corpus's replies are addressed to (their tickets are made below).
GMAIL_TOKEN = "Q3xT9kLm2PzR7vWy"
CARL_TOKEN = "Zk3_vQ8-pW2mN7xR4tY1"

# file -> (outcome, reason starts with, title of the ticket it made or landed on, requester's e-mail)
EXPECTED = {
    "apple_iphone.eml": (Outcome.CREATED, "new conversation", "Re: [HD-000124] Printer offline", "m.rossi@icloud.com"),
    "dsn_bounce.eml": (Outcome.IGNORED, "bounce (5.1.1) for no.such.user@example.net", None, None),
    "dsn_headers_only.eml": (Outcome.IGNORED, "bounce (5.2.2) for gone@example.org", None, None),
    "forwarded_rfc822.eml": (Outcome.CREATED, "new conversation", "Fwd: Contract renewal", "peter.klein@example.com"),
    "garbage.eml": (Outcome.QUARANTINED, "cannot be read: The message has no usable From address.", None, None),
    "gmail_fr.eml": (Outcome.CREATED, "new conversation", "Re: [HD-000130] Imprimante", "claire.martin@gmail.com"),
    "gmail_reply.eml": (Outcome.APPENDED, "", "Printer on fire", "jane.doe@gmail.com"),
    "header_injection.eml": (Outcome.CREATED, "new conversation", "Hello Bcc: victim@example.com body", "mallory@example.com"),
    "html_only.eml": (Outcome.CREATED, "new conversation", "Order #4711 stuck", "lena@shop.example.com"),
    "inline_image.eml": (Outcome.CREATED, "new conversation", "Screenshot of the error", "sara.lind@example.se"),
    "invalid_utf8.eml": (Outcome.CREATED, "new conversation", "Café \ufffd broken", "broken@example.com"),
    "iso2022jp.eml": (Outcome.CREATED, "new conversation", "ログインできません", "yamada@example.co.jp"),
    "koi8r.eml": (Outcome.CREATED, "new conversation", "Не работает вход", "ivan@example.ru"),
    "mailing_list.eml": (Outcome.IGNORED, "automatic mail (precedence)", None, None),
    "no_message_id.eml": (Outcome.CREATED, "new conversation", "Scan from MFP-3F", "old-scanner@example.com"),
    "nul_bytes.eml": (Outcome.CREATED, "new conversation", "Hello world", "nul@example.com"),
    "out_of_office.eml": (Outcome.IGNORED, "automatic mail (auto-submitted)", None, None),
    "outlook_de.eml": (Outcome.CREATED, "new conversation", "AW: [HD-000129] Rechner startet nicht", "s.wagner@example.de"),
    "outlook_web.eml": (Outcome.CREATED, "new conversation", "Re: [HD-000131] Login problem", "priya.nair@outlook.com"),
    "outlook_reply.eml": (Outcome.CREATED, "new conversation", "RE: [HD-000123] Export to Excel fails", "tom.becker@example.com"),
    "reply_token.eml": (Outcome.APPENDED, "", "Printer on fire", "dana@example.com"),
    "rfc2047_subject.eml": (Outcome.CREATED, "new conversation", "Grüße € Rechnung und über Straße plain", "joerg.mueller@example.de"),
    "rfc2231_attachments.eml": (Outcome.CREATED, "new conversation", "Unterlagen", "anna@example.de"),
    "thunderbird_flowed_de.eml": (Outcome.CREATED, "new conversation", "Re: [HD-000132] Drucker 2. Stock", "karl.huber@example.at"),
    "unknown_charset.eml": (Outcome.CREATED, "new conversation", "Grüße", "legacy@example.com"),
    "windows1252.eml": (Outcome.CREATED, "new conversation", "Invoice “wrong” – € 200 too much", "rene@example.fr"),
    "x_autoreply.eml": (Outcome.IGNORED, "automatic mail (x-autoreply)", None, None),
}  # fmt: skip

# file -> names of the files stored on its ticket; of those refused, the name in the "not attached" note
ATTACHED = {
    "inline_image.eml": (["error.png"], []),
    "rfc2231_attachments.eml": (["Rechnungsübersicht für Dezember 2026.pdf", "Beträge.csv", "image.png"], ["evil.exe"]),
    "forwarded_rfc822.eml": ([], ["Contract renewal.eml"]),
    "unknown_charset.eml": ([], ["data.bin"]),
}


@pytest.fixture
def attachment_root(settings, tmp_path) -> Path:
    settings.HELPDESK_ATTACHMENT_ROOT = tmp_path / "attachments"
    return settings.HELPDESK_ATTACHMENT_ROOT


@pytest.fixture
def mailbox():
    return MailboxFactory(address=MAILBOX)


def _ticket_with_token(mailbox, token: str, sender: str) -> Ticket:
    result = mail_ingest(mailbox=mailbox, raw=raw_message(sender=sender, to=MAILBOX, subject="Printer on fire"))
    assert result.outcome == Outcome.CREATED, result
    MailThread.objects.filter(ticket_id=result.ticket).update(token=token.lower())  # stored as issued: lower-case
    return Ticket.objects.get(pk=result.ticket)


def test_every_corpus_message_lands_is_ignored_or_quarantined(mailbox, attachment_root):
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED), "a corpus file without its row here"
    jane = _ticket_with_token(mailbox, GMAIL_TOKEN, "Jane Doe <jane.doe@gmail.com>")
    dana = _ticket_with_token(mailbox, CARL_TOKEN, "Dana <dana@example.com>")
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        outcome, reason, title, requester = EXPECTED[path.name]
        result = mail_ingest(mailbox=mailbox, raw=raw)  # never raises
        assert result.outcome == outcome, (path.name, result)
        assert result.reason.startswith(reason), (path.name, result.reason)
        row = InboundMessage.objects.get(pk=result.message)
        assert (row.outcome, row.ticket_id, row.comment_id) == (outcome, result.ticket, result.comment), path.name
        assert bytes(row.raw) == raw, path.name  # kept byte-exact, quarantined or not
        if title is None:
            assert result.ticket is None, path.name
            continue
        ticket = Ticket.objects.select_related("requester").get(pk=result.ticket)
        assert (ticket.title, ticket.requester.email) == (title, requester), path.name
        stored, refused = ATTACHED.get(path.name, ([], []))
        names = list(Attachment.objects.filter(comment__ticket=ticket).order_by("id").values_list("name", flat=True))
        assert names == stored, path.name
        notes = " ".join(Comment.objects.filter(ticket=ticket, internal=True).values_list("body", flat=True))
        for name in refused:
            assert f"- {name}:" in notes, (path.name, notes)
        # Taken once: the same bytes again are a duplicate of the same ticket.
        again = mail_ingest(mailbox=mailbox, raw=raw)
        assert (again.outcome, again.ticket) == (Outcome.DUPLICATE, result.ticket), path.name

    # The replies landed on the tickets their reply tokens name: the requester's as a
    # public comment, the stranger's (Carl, on Dana's ticket) as an internal note.
    jane_reply = Comment.objects.filter(ticket=jane).order_by("id").last()
    assert not jane_reply.internal and jane_reply.body.startswith("Thanks, that fixed it!")
    carl_reply = Comment.objects.filter(ticket=dana).order_by("id").last()
    assert carl_reply.internal and "It happens again since this morning." in carl_reply.body
    counts = {o: InboundMessage.objects.filter(outcome=o).count() for o in Outcome.values if o != Outcome.DUPLICATE}
    assert counts == {Outcome.CREATED: 19 + 2, Outcome.APPENDED: 2, Outcome.IGNORED: 5, Outcome.QUARANTINED: 1}


def test_the_25_mb_message_lands_with_its_24_mb_attachment(mailbox, attachment_root, settings):
    settings.HELPDESK_ATTACHMENT_MAX_MB = 30  # the default (10) would refuse it with a "not attached" note
    content = b"\x1f\x8b\x08\x00" + os.urandom(18 * 2**20)  # a .gz by its signature, incompressible
    raw = raw_message(
        sender="Big Sender <big@example.com>",
        to=MAILBOX,
        subject="The dump",
        body="The dump is attached.\n",
        attachments=[("dump.gz", "application/gzip", content)],
    )
    assert 24 * 2**20 < len(raw) < 26 * 2**20
    result = mail_ingest(mailbox=mailbox, raw=raw)
    assert result.outcome == Outcome.CREATED, result
    [attachment] = Attachment.objects.filter(comment__ticket_id=result.ticket)
    assert (attachment.name, attachment.size) == ("dump.gz", len(content))
    assert (Path(attachment_root) / attachment.stored_name).read_bytes() == content


def test_the_25_mb_message_over_the_attachment_limit_lands_with_a_note(mailbox, attachment_root, settings):
    settings.HELPDESK_ATTACHMENT_MAX_MB = 10
    content = b"\x1f\x8b\x08\x00" + os.urandom(18 * 2**20)
    raw = raw_message(
        sender="big@example.com", to=MAILBOX, subject="The dump", attachments=[("dump.gz", "application/gzip", content)]
    )
    result = mail_ingest(mailbox=mailbox, raw=raw)
    assert result.outcome == Outcome.CREATED, result
    assert not Attachment.objects.filter(comment__ticket_id=result.ticket).exists()
    [note] = Comment.objects.filter(ticket_id=result.ticket, internal=True)
    assert "- dump.gz: The file is larger than 10 MB." in note.body
