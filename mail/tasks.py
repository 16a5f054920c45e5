"""Thin, idempotent Celery tasks for mail."""

from __future__ import annotations

from celery import shared_task

from mail.services import ingest, polling


@shared_task(name="mail.dispatch_due_mailboxes")
def dispatch_due_mailboxes() -> int:
    """Beat, every few seconds: enqueue a poll for each IMAP mailbox that is due."""
    return len(polling.mailboxes_dispatch_due())


@shared_task(name="mail.poll_mailbox", acks_late=True)
def poll_mailbox(mailbox_id: int) -> dict:
    """Poll one IMAP mailbox; a redelivered task takes nothing twice (mail.services.polling)."""
    result = polling.mailbox_poll(mailbox_id=mailbox_id)
    return {"fetched": result.fetched, "outcomes": result.outcomes, "error": result.error}


@shared_task(name="mail.purge_ignored_raw", acks_late=True)
def purge_ignored_raw() -> int:
    """Daily: the bytes of ignored messages past HELPDESK_MAIL_KEEP_IGNORED_DAYS."""
    return ingest.ignored_raw_purge()
