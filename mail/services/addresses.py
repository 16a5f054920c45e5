"""Our own addresses, and each ticket's thread with its reply token."""

from __future__ import annotations

import secrets
from email.utils import parseaddr

from django.conf import settings
from django.db import IntegrityError, transaction

from mail.models import Mailbox, MailThread
from tickets.models import Ticket


def own_addresses() -> set[str]:
    """Every address the product sends from or receives at, lower-case."""
    addresses = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    default_from = parseaddr(settings.HELPDESK_EMAIL_FROM)[1].lower()
    if default_from:
        addresses.add(default_from)
    return addresses


def is_own_address(address: str) -> bool:
    """The address is one of ours, or a reply address of one of ours (``local+token@domain``)."""
    address = address.lower()
    local, _, domain = address.rpartition("@")
    base = f"{local.split('+', 1)[0]}@{domain}"
    own = own_addresses()
    return address in own or base in own


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


def ticket_mailbox(ticket: Ticket) -> tuple[MailThread | None, Mailbox | None]:
    """The ticket's thread (None when it has none yet) and the mailbox it speaks
    through: its thread's, else the first enabled one; (thread, None) when the
    helpdesk has no mailbox to speak through."""
    thread = MailThread.objects.select_related("mailbox").filter(ticket_id=ticket.pk).first()
    if thread is not None and thread.mailbox is not None:
        return thread, thread.mailbox
    return thread, Mailbox.objects.filter(enabled=True).order_by("id").first()
