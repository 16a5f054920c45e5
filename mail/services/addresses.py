"""Our own addresses, and each ticket's thread with its reply token.

A poll takes hundreds of messages, and each asks "is this address ours?" and
"which mailbox speaks for this thread?". Inside :func:`mailboxes_remembered`
(one poll) the mailboxes are read once, at its start; outside it every call
reads them afresh. A mailbox a manager adds or changes during a poll counts
from the next poll on.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parseaddr

from django.conf import settings
from django.db import IntegrityError, transaction

from mail.models import Mailbox, MailThread
from tickets.models import Ticket

_remembered: ContextVar[dict[int, Mailbox] | None] = ContextVar("mailboxes_remembered", default=None)


@contextmanager
def mailboxes_remembered() -> Iterator[None]:
    """Read the mailboxes once for the block (one poll) instead of once per question."""
    token = _remembered.set({m.pk: m for m in Mailbox.objects.order_by("id")})
    try:
        yield
    finally:
        _remembered.reset(token)


def mailboxes() -> list[Mailbox]:
    """Every mailbox, by id (remembered for the poll inside :func:`mailboxes_remembered`)."""
    known = _remembered.get()
    if known is not None:
        return list(known.values())
    return list(Mailbox.objects.order_by("id"))


def mailbox_addresses() -> list[str]:
    return [m.address for m in mailboxes()]


def own_addresses() -> set[str]:
    """Every address the product sends from or receives at, lower-case."""
    addresses = {a.lower() for a in mailbox_addresses()}
    default_from = parseaddr(settings.HELPDESK_EMAIL_FROM)[1].lower()
    if default_from:
        addresses.add(default_from)
    return addresses


def mailbox_address(address: str) -> str:
    """``Support+Token@Example.com`` -> ``support@example.com``: the mailbox an address
    reaches ('' for something that is not an address)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return ""
    return f"{local.split('+', 1)[0]}@{domain}"


def is_own_address(address: str) -> bool:
    """The address is one of ours, or a reply address of one of ours (``local+token@domain``)."""
    own = own_addresses()
    return address.strip().lower() in own or mailbox_address(address) in own


def new_token() -> str:
    """An unguessable reply token: 128 bits as lower-case hex, so that a mail server
    or client that lower-cases addresses cannot break it."""
    return secrets.token_hex(16)


def thread_for(ticket: Ticket, *, mailbox: Mailbox | None = None) -> MailThread:
    """The ticket's thread, made on first use with a fresh reply token; ``mailbox``
    is the one it speaks through (the first mailbox that wrote or received for it)."""
    thread = MailThread.objects.filter(ticket_id=ticket.pk).first()
    if thread is not None:
        if thread.mailbox_id is None and mailbox is not None:
            thread.mailbox = mailbox
            thread.save(update_fields=["mailbox"])
        return thread
    try:
        with transaction.atomic():
            return MailThread.objects.create(ticket_id=ticket.pk, token=new_token(), mailbox=mailbox)
    except IntegrityError:  # made concurrently
        return MailThread.objects.get(ticket_id=ticket.pk)


def thread_new(ticket: Ticket, *, mailbox: Mailbox) -> MailThread:
    """The thread of a ticket opened in this transaction (nothing else can have made
    it yet): inserted at once, without looking first."""
    return MailThread.objects.create(ticket_id=ticket.pk, token=new_token(), mailbox=mailbox)


def ticket_mailbox(ticket: Ticket, thread: MailThread | None = None) -> tuple[MailThread | None, Mailbox | None]:
    """The ticket's thread (None when it has none yet; ``thread`` when the caller
    holds it) and the mailbox it speaks through: its thread's, else the first
    enabled one; (thread, None) when the helpdesk has no mailbox to speak through."""
    if thread is None:
        thread = MailThread.objects.filter(ticket_id=ticket.pk).first()
    known = _remembered.get()
    if thread is not None and thread.mailbox_id is not None:
        if known is not None and thread.mailbox_id in known:
            return thread, known[thread.mailbox_id]
        return thread, thread.mailbox
    if known is not None:
        return thread, next((m for m in known.values() if m.enabled), None)
    return thread, Mailbox.objects.filter(enabled=True).order_by("id").first()
