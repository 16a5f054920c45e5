"""Mail a provider (Mailgun, Postmark, SendGrid, Amazon SES...) posts to the helpdesk:
which mailbox takes it. The webhooks (``mail/providers.py``) call this; the message
itself goes through the one ingest path (``mail_ingest``).

Which mailbox: the first of the message's recipients, in the order given (the
envelope recipient the provider names first, then Delivered-To, To, Cc), that is
the address of an enabled ``http`` mailbox; a reply address
``<local>+<token>@<domain>`` counts as its mailbox's ``<local>@<domain>``.

Never lost: a message addressed to no mailbox is quarantined, with the addresses it
named, in the oldest enabled http mailbox, where a manager retries (ingests it
there) or discards it. Only when there is no enabled http mailbox at all is it not
stored: ``NoMailbox``, which the webhook answers with 503 so the provider keeps it
and tries again.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.functions import Lower

from mail.models import Mailbox, MailboxKind
from mail.services.addresses import mailbox_address
from mail.services.ingest import Ingested, mail_ingest, mail_quarantine

# A message naming more addresses than this is looked up by its first ones.
MAX_RECIPIENTS = 50


class NoMailbox(Exception):
    """No enabled http mailbox: nothing can store the message now."""


def provider_mailbox(recipients: Iterable[str]) -> Mailbox | None:
    """The enabled http mailbox the first matching recipient reaches (one query)."""
    wanted: list[str] = []
    for address in recipients:
        base = mailbox_address(address)
        if base and base not in wanted:
            wanted.append(base)
        if len(wanted) >= MAX_RECIPIENTS:
            break
    if not wanted:
        return None
    found = {
        mailbox.address_lower: mailbox
        for mailbox in Mailbox.objects.annotate(address_lower=Lower("address")).filter(
            enabled=True, kind=MailboxKind.HTTP, address_lower__in=wanted
        )
    }
    return next((found[address] for address in wanted if address in found), None)


def provider_ingest(*, raw: bytes, recipients: list[str], provider: str) -> Ingested:
    """Take a message ``provider`` posted: into the mailbox its recipients reach, else
    into the quarantine of the oldest enabled http mailbox. Raises ``NoMailbox`` when
    no http mailbox is enabled (the message is not stored; the provider retries)."""
    mailbox = provider_mailbox(recipients)
    if mailbox is not None:
        return mail_ingest(mailbox=mailbox, raw=raw)
    fallback = Mailbox.objects.filter(enabled=True, kind=MailboxKind.HTTP).order_by("id").first()
    if fallback is None:
        raise NoMailbox("no enabled http mailbox")
    named = ", ".join(dict.fromkeys(a.strip().lower() for a in recipients if a.strip()))
    return mail_quarantine(
        mailbox=fallback, raw=raw, reason=f"{provider}: addressed to no mailbox ({named or 'no recipient'})"
    )
