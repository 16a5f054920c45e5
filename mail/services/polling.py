"""Polling IMAP mailboxes (Celery beat dispatches, a worker polls).

Exactly once, with the server's help: a mailbox remembers (UIDVALIDITY, last
UID). A poll fetches the messages above last UID with ``BODY.PEEK[]`` (which
leaves them unread), takes them through ``mail_ingest`` in chunks of SEEN_BATCH
per transaction (each message under a savepoint of its own), and only after a
chunk committed flags its messages ``\\Seen`` and moves last UID past them.
A worker killed anywhere in between leaves last UID where it was: the next poll
fetches the same messages again, and their stored keys answer ``duplicate``.
When the server's UIDVALIDITY changes (the folder was rebuilt), the poll starts
again from UID 0 and the same keys keep it from taking anything twice.

Two workers polling one mailbox at once (a slow poll overlapping the next)
take nothing twice either: the key decides, and last UID only grows.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from helpdesk.tasks import enqueue
from mail import imap
from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome
from mail.services import addresses
from mail.services.ingest import mail_ingest

log = logging.getLogger(__name__)

POLL_TASK = "mail.poll_mailbox"
# Messages committed together, then flagged \Seen and counted into last UID together
# (at most this many fetched again after a crash; they answer duplicate).
SEEN_BATCH = 20
_ERROR_MAX = Mailbox._meta.get_field("last_error").max_length


@dataclass(frozen=True)
class PollResult:
    fetched: int
    outcomes: dict[str, int]
    error: str = ""


def imap_settings(mailbox: Mailbox) -> imap.ImapSettings:
    return imap.ImapSettings(
        host=mailbox.host,
        port=mailbox.port or 993,
        security=mailbox.security,
        username=mailbox.username,
        password=mailbox.password,
        folder=mailbox.folder,
        timeout=settings.HELPDESK_MAIL_IMAP_TIMEOUT_SECONDS,
    )


def _too_large(mailbox: Mailbox, uidvalidity: int, fetched: imap.Fetched, now: datetime) -> None:
    """A message over the size limit stays on the server; its row tells managers so."""
    InboundMessage.objects.get_or_create(
        mailbox=mailbox,
        message_key=f"imap:{uidvalidity}:{fetched.uid}",
        defaults={
            "received_at": now,
            "outcome": Outcome.QUARANTINED,
            "reason": f"larger than {settings.HELPDESK_MAIL_MAX_BYTES // 2**20} MB ({fetched.size} bytes); "
            f"left on the server as UID {fetched.uid}",
            "size": fetched.size or 0,
        },
    )


def _advance(mailbox: Mailbox, box: imap.ImapMailbox, uids: list[int]) -> None:
    """After their messages committed: flag them read, then move last UID past them."""
    if not uids:
        return
    box.mark_seen(uids)
    Mailbox.objects.filter(pk=mailbox.pk, uidvalidity=box.uidvalidity).update(
        last_uid=Greatest(F("last_uid"), max(uids))
    )


def mailbox_poll(*, mailbox_id: int, now: datetime | None = None) -> PollResult:
    """Take every new message of one IMAP mailbox (at most HELPDESK_MAIL_POLL_BATCH
    per poll; the rest next time) and record the mailbox's health."""
    mailbox = Mailbox.objects.filter(pk=mailbox_id, kind=MailboxKind.IMAP, enabled=True).first()
    if mailbox is None:
        return PollResult(0, {}, "no such enabled IMAP mailbox")
    outcomes: dict[str, int] = {}
    fetched_count = 0
    try:
        with imap.ImapMailbox(imap_settings(mailbox)) as box, addresses.mailboxes_remembered():
            last_uid = mailbox.last_uid
            if mailbox.uidvalidity != box.uidvalidity:
                # A new folder generation (or the first poll): its UIDs start afresh.
                Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=box.uidvalidity, last_uid=0)
                last_uid = 0
            uids = box.uids_after(last_uid)[: settings.HELPDESK_MAIL_POLL_BATCH]
            messages = box.fetch(uids, max_bytes=settings.HELPDESK_MAIL_MAX_BYTES)
            while True:
                # Up to SEEN_BATCH messages commit together, each under a savepoint of
                # its own (mail_ingest's): one that fails is quarantined alone, a
                # fault of the database rolls the chunk back whole and nothing of it
                # is flagged; only after the commit are they \Seen and counted.
                done: list[int] = []
                with transaction.atomic():
                    for fetched in itertools.islice(messages, SEEN_BATCH):
                        fetched_count += 1
                        if fetched.raw is None:
                            _too_large(mailbox, box.uidvalidity, fetched, timezone.now())
                            outcome = Outcome.QUARANTINED
                        else:
                            outcome = mail_ingest(mailbox=mailbox, raw=fetched.raw).outcome
                        outcomes[outcome] = outcomes.get(outcome, 0) + 1
                        done.append(fetched.uid)
                if not done:
                    break
                _advance(mailbox, box, done)
    except imap.ImapError as exc:
        _record_health(mailbox, error=exc.reason, now=now)
        log.warning("mailbox %s: poll failed: %s", mailbox.pk, exc.reason)
        return PollResult(fetched_count, outcomes, exc.reason)
    except Exception as exc:
        # A fault of ours or the database's while taking a message: that message
        # was not flagged nor counted, so the next poll tries it again; managers
        # see the poll failing meanwhile instead of a mailbox that looks healthy.
        log.exception("mailbox %s: poll stopped by an unexpected error", mailbox.pk)
        reason = f"stopped by an unexpected error ({type(exc).__name__}); see the worker's log"
        try:
            _record_health(mailbox, error=reason, now=now)
        except Exception:  # the database itself is what failed
            log.warning("mailbox %s: could not record the failed poll", mailbox.pk)
        return PollResult(fetched_count, outcomes, reason)
    _record_health(mailbox, error="", now=now)
    return PollResult(fetched_count, outcomes)


def _record_health(mailbox: Mailbox, *, error: str, now: datetime | None) -> None:
    now = now or timezone.now()
    if error:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=now, last_error=error[:_ERROR_MAX], consecutive_failures=F("consecutive_failures") + 1
        )
    else:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=now, last_success_at=now, last_error="", consecutive_failures=0
        )


def mailboxes_dispatch_due(*, now: datetime | None = None) -> list[int]:
    """Beat: claim each enabled IMAP mailbox whose next poll is due (moving its
    next poll one interval on, so the next dispatch does not claim it again) and
    enqueue its poll after commit. Returns the ids dispatched."""
    now = now or timezone.now()
    due = list(
        Mailbox.objects.filter(kind=MailboxKind.IMAP, enabled=True)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("id", "poll_interval_seconds")
    )
    claimed = []
    for mailbox_id, interval in due:
        taken = (
            Mailbox.objects.filter(pk=mailbox_id)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
            .update(next_poll_at=now + timedelta(seconds=interval))
        )
        if taken:
            claimed.append(mailbox_id)
            enqueue(POLL_TASK, fallback=False, mailbox_id=mailbox_id)
    return claimed
