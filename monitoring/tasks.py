"""Thin, idempotent Celery tasks for monitoring."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.connectors import SourceError
from monitoring.services import polling, push, retention


@shared_task(name="monitoring.dispatch_due_monitors")
def dispatch_due_monitors() -> int:
    """Beat, every few seconds: enqueue a poll for each monitor that is due."""
    return len(polling.monitors_dispatch_due())


@shared_task(name="monitoring.poll_monitor", bind=True, acks_late=True, max_retries=1)
def poll_monitor(self, monitor_id: int, scheduled_at: str) -> str:
    """Poll one monitor for its scheduled instant. A redelivered or late task is
    dropped as stale; 5xx and timeouts are retried once, soon."""
    try:
        return polling.monitor_poll(
            monitor_id=monitor_id,
            scheduled_at=parse_datetime(scheduled_at),
            last_attempt=self.request.retries >= self.max_retries,
            now=timezone.now(),
        )
    except SourceError as exc:
        raise self.retry(exc=exc, countdown=2) from exc


@shared_task(name="monitoring.purge_samples", acks_late=True)
def purge_samples() -> int:
    """Daily: delete samples older than HELPDESK_SAMPLE_RETENTION_DAYS, in batches."""
    return retention.samples_purge()


@shared_task(name="monitoring.apply_alertmanager_pushes", acks_late=True)
def apply_alertmanager_pushes(source_id: int) -> int:
    """Apply a source's stored Alertmanager pushes; each alert once, however often this runs."""
    return push.alertmanager_pushes_apply(source_id=source_id)


@shared_task(name="monitoring.resume_alertmanager_pushes", acks_late=True)
def resume_alertmanager_pushes() -> int:
    """Beat, every minute: hand stored pushes over again (broker outage, dead worker)."""
    return push.alertmanager_pushes_resume()
