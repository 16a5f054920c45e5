"""Thin, idempotent Celery tasks for mail."""

from __future__ import annotations

from celery import shared_task

from mail.services import polling


@shared_task(name="mail.dispatch_due_mailboxes")
def dispatch_due_mailboxes() -> int:
    """Beat, every few seconds: enqueue a poll for each IMAP mailbox that is due."""
    return len(polling.mailboxes_dispatch_due())


@shared_task(name="mail.poll_mailbox", acks_late=True)
def poll_mailbox(mailbox_id: int) -> dict:
    """Poll one IMAP mailbox; a redelivered task takes nothing twice (mail.services.polling)."""
    result = polling.mailbox_poll(mailbox_id=mailbox_id)
    return {"fetched": result.fetched, "outcomes": result.outcomes, "error": result.error}
