"""Sending Celery tasks from request code without ever losing the change."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app, shared_task

log = logging.getLogger(__name__)


def enqueue(task_name: str, *, fallback: bool = True, **kwargs: Any) -> bool:
    """Send a registered task. Call it from ``transaction.on_commit``.

    If the broker is unreachable the committed change must not turn into a 500,
    and its follow-up must not be lost: the task then runs here, in-process.
    With ``fallback=False`` (work a sweep picks up again, like the notification
    outbox) it is only logged. Returns whether the task was sent.
    """
    task = current_app.tasks[task_name]
    try:
        task.apply_async(kwargs=kwargs)
    except Exception:  # kombu raises several kinds of connection errors
        if not fallback:
            log.warning("broker unreachable; %s left for the sweep", task_name, exc_info=True)
            return False
        log.warning("broker unreachable; running %s in-process", task_name, exc_info=True)
        task.apply(kwargs=kwargs)
        return False
    return True


@shared_task(name="helpdesk.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    """Expired Idempotency-Key rows (safe to run twice)."""
    from helpdesk.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()


@shared_task(name="helpdesk.purge_login_records", acks_late=True)
def purge_login_records() -> int:
    """Old successful-login records (helpdesk.login_guard; safe to run twice)."""
    from helpdesk.login_guard import login_records_purge

    return login_records_purge()


@shared_task(name="helpdesk.purge_api_tokens", acks_late=True)
def purge_api_tokens() -> int:
    """Expired API tokens (safe to run twice)."""
    from helpdesk.tokens import api_tokens_purge

    return api_tokens_purge()
