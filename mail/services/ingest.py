"""Taking one raw message: the one path for IMAP polls, the HTTP endpoint, the MTA
pipe (``manage.py mail_ingest``) and providers' inbound webhooks.

Exactly once: the message's ``InboundMessage`` row (unique per mailbox and
message key) is inserted in the same transaction as the ticket or comment it
becomes. A second delivery of the same message, concurrent or years later,
finds the row and answers ``duplicate``; a worker killed before the commit
leaves nothing, so the next poll takes the message again. Never lost: a message
that cannot be parsed, or that breaks while it is routed, is quarantined with
its raw bytes for a manager to retry.

What becomes of a message, first rule that applies (docs/EMAIL.md "Outcomes"):
our own mail, bounces, automatic and bulk mail, a sender over the hourly limit
-> ``ignored``; a reply matched to a ticket -> ``appended`` (a comment, or an
internal note for an unknown sender; a new ticket when the ticket is closed or
resolved more than HELPDESK_REOPEN_DAYS ago) ; anything else -> ``created``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpdesk.errors import Conflict, ServiceError
from mail import parsing
from mail.models import InboundMessage, Mailbox, Outcome
from mail.services import addresses, bounces, threads

log = logging.getLogger(__name__)

_REASON_MAX = InboundMessage._meta.get_field("reason").max_length
_SUBJECT_MAX = InboundMessage._meta.get_field("subject").max_length
_ADDRESS_MAX = InboundMessage._meta.get_field("from_address").max_length


@dataclass(frozen=True)
class Ingested:
    """What became of one message: the answer of the inbound endpoint."""

    outcome: str
    ticket: int | None = None
    comment: int | None = None
    reason: str = ""
    message: int | None = None  # the InboundMessage row


def _digest_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _duplicate(row: InboundMessage) -> Ingested:
    return Ingested(Outcome.DUPLICATE, row.ticket_id, row.comment_id, f"already {row.outcome}", row.pk)


def _taken(mailbox: Mailbox, key: str) -> InboundMessage | None:
    return (
        InboundMessage.objects.filter(mailbox=mailbox, message_key=key)
        .only("id", "outcome", "ticket_id", "comment_id")
        .first()
    )


def _store(
    mailbox: Mailbox,
    key: str,
    *,
    outcome: str,
    reason: str,
    raw: bytes,
    now: datetime,
    mail: parsing.ParsedMail | None,
) -> InboundMessage | None:
    """Insert the message's row; None when the key is taken (the caller answers duplicate)."""
    row = InboundMessage(
        mailbox=mailbox,
        message_key=key,
        received_at=now,
        outcome=outcome,
        reason=reason[:_REASON_MAX],
        from_address=(mail.from_address if mail else "")[:_ADDRESS_MAX],
        subject=(mail.subject if mail else "")[:_SUBJECT_MAX],
        size=len(raw),
        raw=raw,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return None
    return row


def _quarantine(mailbox: Mailbox, raw: bytes, key: str, reason: str, now: datetime, mail=None) -> Ingested:
    row = _store(mailbox, key, outcome=Outcome.QUARANTINED, reason=reason, raw=raw, now=now, mail=mail)
    if row is None:
        return _duplicate(_taken(mailbox, key))
    log.warning("mailbox %s: message quarantined: %s", mailbox.pk, reason)
    return Ingested(Outcome.QUARANTINED, reason=row.reason, message=row.pk)


def mail_quarantine(*, mailbox: Mailbox, raw: bytes, reason: str, now: datetime | None = None) -> Ingested:
    """Keep ``raw`` in ``mailbox``'s quarantine unread by the router, with ``reason``
    (a provider's message addressed to no mailbox). Once, like any message: under its
    Message-ID (the raw bytes' digest without one), so a re-send answers ``duplicate``;
    a manager's retry ingests it into ``mailbox``."""
    now = now or timezone.now()
    try:
        mail = parsing.parse_message(raw) if len(raw) <= settings.HELPDESK_MAIL_MAX_BYTES else None
    except parsing.MailParseError:
        mail = None
    key = parsing.message_key(mail) if mail is not None else _digest_key(raw)
    if (taken := _taken(mailbox, key)) is not None:
        return _duplicate(taken)
    return _quarantine(mailbox, raw, key, reason, now, mail)


def mail_ingest(*, mailbox: Mailbox, raw: bytes, now: datetime | None = None) -> Ingested:
    """Take ``raw`` (an RFC 5322 message) for ``mailbox`` exactly once and say
    what became of it. Never raises for anything in the message."""
    now = now or timezone.now()
    limit = settings.HELPDESK_MAIL_MAX_BYTES
    if len(raw) > limit:
        return _quarantine(mailbox, raw, _digest_key(raw), f"larger than {limit // 2**20} MB", now)
    try:
        mail = parsing.parse_message(raw)
    except parsing.MailParseError as exc:
        return _quarantine(mailbox, raw, _digest_key(raw), f"cannot be read: {exc.reason}", now)
    key = parsing.message_key(mail)
    if (taken := _taken(mailbox, key)) is not None:
        return _duplicate(taken)
    try:
        with transaction.atomic():
            # The claim: a concurrent delivery of the same message waits here for ours.
            row = _store(mailbox, key, outcome=Outcome.IGNORED, reason="", raw=raw, now=now, mail=mail)
            if row is None:
                return _duplicate(_taken(mailbox, key))
            result = _route(mailbox, mail, now)
            row.outcome, row.reason = result.outcome, result.reason[:_REASON_MAX]
            row.ticket_id, row.comment_id = result.ticket, result.comment
            row.save(update_fields=["outcome", "reason", "ticket", "comment"])
    except (ServiceError, ValueError, LookupError, OSError) as exc:
        # The message broke a rule on its way in (an inactive requester, a closed
        # race, storage failing): keep it for a manager rather than lose it.
        log.warning("mailbox %s: message %s could not be routed: %s", mailbox.pk, key, exc)
        reason = str(exc.detail) if isinstance(exc, ServiceError) else type(exc).__name__
        return _quarantine(mailbox, raw, key, f"could not be added: {reason}", now, mail)
    return Ingested(result.outcome, result.ticket, result.comment, result.reason, row.pk)


def _sender_over_limit(mail: parsing.ParsedMail, now: datetime) -> bool:
    limit = settings.HELPDESK_MAIL_MAX_PER_SENDER_HOUR
    recent = InboundMessage.objects.filter(
        from_address=mail.from_address[:_ADDRESS_MAX],
        received_at__gte=now - timedelta(hours=1),
        outcome__in=[Outcome.CREATED, Outcome.APPENDED],
    )
    return recent[:limit].count() >= limit


def _route(mailbox: Mailbox, mail: parsing.ParsedMail, now: datetime) -> Ingested:
    """Decide and do, inside the claiming transaction."""
    if addresses.is_own_address(mail.from_address):
        return Ingested(Outcome.IGNORED, reason="our own mail")
    if mail.bounce is not None:
        return Ingested(Outcome.IGNORED, reason=bounces.bounce_apply(bounce=mail.bounce, now=now))
    if mail.automatic:
        return Ingested(Outcome.IGNORED, reason=f"automatic mail ({mail.automatic})")
    if _sender_over_limit(mail, now):
        limit = settings.HELPDESK_MAIL_MAX_PER_SENDER_HOUR
        return Ingested(Outcome.IGNORED, reason=f"more than {limit} messages from this sender in an hour")
    match = threads.thread_match(mail)
    if match is not None:
        landed = threads.reply_add(mailbox=mailbox, mail=mail, match=match, now=now)
    else:
        landed = threads.ticket_open(mailbox=mailbox, mail=mail)
    return Ingested(landed.outcome, landed.ticket, landed.comment, landed.reason)


def quarantine_retry(*, message: InboundMessage) -> Ingested:
    """Take a quarantined message again (after a fix or a configuration change):
    its row goes, and the message is ingested as if it arrived now. A message
    that still fails is quarantined again (under its key, with the new reason).
    A message whose bytes were never fetched (too large, left on the IMAP server)
    cannot be taken from here: 409, and its row stays."""
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().filter(pk=message.pk, outcome=Outcome.QUARANTINED).first()
        if locked is None:
            row = InboundMessage.objects.filter(pk=message.pk).first()
            return _duplicate(row) if row else Ingested(Outcome.DUPLICATE, reason="gone")
        if locked.raw is None:
            raise Conflict(f"The helpdesk never had this message's bytes ({locked.reason}); take it from the server.")
        raw, mailbox = bytes(locked.raw), locked.mailbox
        locked.delete()
        return mail_ingest(mailbox=mailbox, raw=raw)


def quarantine_discard(*, message: InboundMessage) -> bool:
    """A manager decided a quarantined message is junk: it becomes ``ignored`` and
    its bytes go. Returns whether it was quarantined."""
    return bool(
        InboundMessage.objects.filter(pk=message.pk, outcome=Outcome.QUARANTINED).update(
            outcome=Outcome.IGNORED, reason="discarded by a manager", raw=None
        )
    )


def ignored_raw_purge(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Daily: ignored messages keep their row (what came, why it was ignored) but
    drop their bytes after HELPDESK_MAIL_KEEP_IGNORED_DAYS. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HELPDESK_MAIL_KEEP_IGNORED_DAYS)
    purged = 0
    while True:
        ids = list(
            InboundMessage.objects.filter(
                outcome=Outcome.IGNORED, received_at__lt=cutoff, raw__isnull=False
            ).values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return purged
        purged += InboundMessage.objects.filter(pk__in=ids).update(raw=None)
