"""Thin, named, idempotent tasks: they take ids and call notifications.delivery.

The names start with ``escalation.`` because the outbox lived there when they were
first queued and scheduled; a renamed task would leave messages already in the
broker (and a beat schedule not yet redeployed) with no task to run them, so the
names stay. The rows they deliver do not depend on it.
"""

from __future__ import annotations

from celery import shared_task

from notifications import delivery
from notifications.email_sender import connection_shared


@shared_task(name="escalation.deliver_notifications", acks_late=True)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver each notification; safe to run twice (a sent row is a no-op).

    Every id is tried even if one raises; the first error is re-raised at the
    end, and the sweep picks up whatever is still pending. The e-mails of the
    batch share one connection to the mail server (each row is still locked,
    sent and saved on its own).
    """
    outcome: dict[str, int] = {}
    first_error: Exception | None = None
    with connection_shared():
        for notification_id in notification_ids:
            try:
                status = delivery.notification_deliver(notification_id=notification_id)
            except Exception as exc:
                first_error = first_error or exc
                status = "error"
            outcome[status] = outcome.get(status, 0) + 1
    if first_error is not None:
        raise first_error
    return outcome


@shared_task(name="escalation.resend_notifications", acks_late=True)
def resend_notifications() -> int:
    """The sweep (beat, every minute): re-enqueue pending notifications that are due."""
    return delivery.notifications_resend_due()
