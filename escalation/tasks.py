"""Thin, named, idempotent tasks: they take ids and call escalation.notifications."""

from __future__ import annotations

from celery import shared_task

from escalation import engine, notifications


@shared_task(name="escalation.deliver_notifications", acks_late=True)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver each notification; safe to run twice (a sent row is a no-op).

    Every id is tried even if one raises; the first error is re-raised at the
    end, and the sweep picks up whatever is still pending.
    """
    outcome: dict[str, int] = {}
    first_error: Exception | None = None
    for notification_id in notification_ids:
        try:
            status = notifications.notification_deliver(notification_id=notification_id)
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
    return notifications.notifications_resend_due()


@shared_task(name="escalation.tick", acks_late=True)
def tick() -> int:
    """One pass of the escalation engine; concurrent runs cannot double-fire."""
    return engine.escalation_tick().total_fired
