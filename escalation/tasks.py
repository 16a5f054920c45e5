"""Thin, named, idempotent tasks: they take ids and call escalation's services.

The outbox's tasks (``escalation.deliver_notifications``, ``escalation.resend_notifications``)
live in ``notifications/tasks.py`` under their old names.
"""

from __future__ import annotations

from celery import shared_task

from escalation import engine


@shared_task(name="escalation.tick", acks_late=True)
def tick() -> int:
    """One pass of the escalation engine; concurrent runs cannot double-fire."""
    return engine.escalation_tick().total_fired
