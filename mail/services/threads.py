"""Tickets' e-mail threads: reply tokens, matching a message to its ticket, and
what a matched or new message becomes.

Matching, first rule that wins (docs/EMAIL.md "Threading"):
1. the reply token in an address the message was delivered to
   (``<local>+<token>@<domain>`` of a mailbox);
2. In-Reply-To or References naming a message of a ticket's thread;
3. ``[HD-000123]`` in the subject, from that ticket's requester or one of its CCs.

Identity: only the requester and the CCs speak on a ticket. A matched reply from
anyone else becomes an internal note "from an unknown sender", never a comment
in someone's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from helpdesk.models import User
from mail import parsing
from mail.models import Direction, Mailbox, MailThread, Outcome, ThreadMessage
from mail.services import outbound
from mail.services.addresses import is_own_address, mailbox_addresses, thread_new
from tickets import services as tickets
from tickets.models import Comment, Status, Ticket, Via

# Characters of a new ticket's title and description taken from the message (the rest stays in the original).
TITLE_MAX = Ticket._meta.get_field("title").max_length
DESCRIPTION_MAX = 100_000


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: str  # "reply token", "references" or "subject"


@dataclass(frozen=True)
class Landed:
    outcome: str
    ticket: int
    comment: int | None
    reason: str


# --- matching ------------------------------------------------------------------------------


def _by_token(mail: parsing.ParsedMail) -> Ticket | None:
    for address in mailbox_addresses():
        token = parsing.reply_token(mail.recipients, mailbox_address=address)
        if token:
            thread = MailThread.objects.select_related("ticket").filter(token=token.lower()).first()
            if thread is not None:
                return thread.ticket
    return None


def _by_references(mail: parsing.ParsedMail) -> Ticket | None:
    ids = [*mail.in_reply_to, *reversed(mail.references)]
    if not ids:
        return None
    known = ThreadMessage.objects.filter(message_id__in=ids[:100]).values_list("message_id", "ticket_id")
    tickets_by_id = dict(known)
    for message_id in ids:  # In-Reply-To first, then the most recent reference
        if message_id in tickets_by_id:
            return Ticket.objects.filter(pk=tickets_by_id[message_id]).first()
    return None


def _by_subject(mail: parsing.ParsedMail) -> Ticket | None:
    number = parsing.ticket_number_in_subject(mail.subject)
    if number is None:
        return None
    ticket = Ticket.objects.select_related("requester").filter(pk=number).first()
    if ticket is None or not is_participant(ticket, mail.from_address):
        return None
    return ticket


def thread_match(mail: parsing.ParsedMail) -> Match | None:
    """The ticket a message answers, and how it was found; None for a new conversation."""
    for how, finder in (("reply token", _by_token), ("references", _by_references), ("subject", _by_subject)):
        ticket = finder(mail)
        if ticket is not None:
            return Match(ticket, how)
    return None


def is_participant(ticket: Ticket, address: str) -> bool:
    """The requester or a CC of the ticket."""
    address = address.lower()
    # The requester is loaded once per ticket instance (matching asks, then landing asks again).
    return address == (ticket.requester.email or "").lower() or tickets.is_cc(ticket, address)


# --- landing -------------------------------------------------------------------------------


def _record_in(ticket_id: int, mail: parsing.ParsedMail, comment_id: int | None) -> None:
    if mail.message_id:
        ThreadMessage.objects.create(
            ticket_id=ticket_id,
            message_id=mail.message_id[: ThreadMessage._meta.get_field("message_id").max_length],
            direction=Direction.IN,
            comment_id=comment_id,
            address=mail.from_address,
        )


def _attach(comment_id: int, uploaded_by: User, mail: parsing.ParsedMail) -> None:
    """The message's files on the comment; a file the rules refuse is named in an internal note."""
    if not mail.attachments:
        return
    comment = Comment.objects.select_related("ticket").get(pk=comment_id)
    _, refused = tickets.attachments_store(
        comment=comment, uploaded_by=uploaded_by, files=[(a.filename, a.content) for a in mail.attachments]
    )
    if refused:
        body = "Files of the e-mail from {} not attached:\n{}".format(
            mail.from_address, "\n".join(f"- {line}" for line in refused)
        )
        tickets.ticket_system_note(ticket=comment.ticket_id, body=body, via=Via.EMAIL)


def _too_old_to_reopen(ticket: Ticket, now: datetime) -> bool:
    if ticket.status == Status.CLOSED:
        return True
    if ticket.status == Status.RESOLVED and ticket.resolved_at is not None:
        return ticket.resolved_at < now - timedelta(days=settings.HELPDESK_REOPEN_DAYS)
    return False


def reply_add(*, mailbox: Mailbox, mail: parsing.ParsedMail, match: Match, now: datetime) -> Landed:
    """A matched message on its ticket: a public comment by a participant, an
    internal note for anyone else, or a new ticket following a closed one."""
    ticket = match.ticket
    if _too_old_to_reopen(ticket, now):
        return ticket_open(mailbox=mailbox, mail=mail, follows=ticket, reason=f"follows {ticket.number}")
    body = mail.reply_text or mail.text or "(empty message)"
    if is_participant(ticket, mail.from_address):
        sender = tickets.customer_find_or_create(email=mail.from_address, name=mail.from_name)
        comment = tickets.comment_create(ticket=ticket.pk, actor=sender, body=body, via=Via.EMAIL)
        comment_id, uploader = comment.pk, sender
        reason = match.how
    else:
        note = f"From an unknown sender, {mail.from_name} <{mail.from_address}>:\n\n{body}"
        comment_id = tickets.ticket_system_note(ticket=ticket.pk, body=note, via=Via.EMAIL)
        uploader = tickets.system_user()
        reason = f"{match.how}; unknown sender"
    _record_in(ticket.pk, mail, comment_id)
    _attach(comment_id, uploader, mail)
    return Landed(Outcome.APPENDED, ticket.pk, comment_id, reason)


def _cc_addresses(mailbox: Mailbox, mail: parsing.ParsedMail) -> list[str]:
    """Who a new ticket's message was copied to, without us and the sender."""
    skip = {mail.from_address}
    seen: list[str] = []
    for address in [*mail.to, *mail.cc]:
        if address in skip or address in seen or is_own_address(address):
            continue
        seen.append(address)
    return seen[: tickets.CC_MAX]


def ticket_open(
    *, mailbox: Mailbox, mail: parsing.ParsedMail, follows: Ticket | None = None, reason: str = "new conversation"
) -> Landed:
    """A new ticket from a message: requester found or created from From, the
    mailbox's defaults, the other recipients as CCs, the files on a first comment."""
    requester = tickets.customer_find_or_create(email=mail.from_address, name=mail.from_name)
    title = " ".join((mail.subject or "(no subject)").split())[:TITLE_MAX]
    ticket = tickets.ticket_create(
        actor=requester,
        requester=requester,
        title=title,
        description=(mail.text or "")[:DESCRIPTION_MAX],
        application=mailbox.application,
        category=mailbox.category,
        urgency=mailbox.urgency,
        impact=mailbox.impact,
        via=Via.EMAIL,
        follows=follows,
    )
    ccs = _cc_addresses(mailbox, mail)
    if ccs:
        tickets.ticket_ccs_add_from_message(ticket=ticket.pk, actor=requester, addresses=ccs)
    thread = thread_new(ticket, mailbox=mailbox)
    _record_in(ticket.pk, mail, None)
    outbound.acknowledgement_send(ticket=ticket, thread=thread)
    comment_id = None
    if mail.attachments:
        files = len(mail.attachments)
        body = f"{files} file{'s' if files != 1 else ''} sent with the request."
        comment_id = tickets.comment_create(ticket=ticket.pk, actor=requester, body=body, via=Via.EMAIL).pk
        _attach(comment_id, requester, mail)
    return Landed(Outcome.CREATED, ticket.pk, comment_id, reason)
