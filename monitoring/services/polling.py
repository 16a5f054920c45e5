"""Polling: a dispatcher picks due monitors, one task per monitor polls it.

Beat runs the dispatcher every few seconds (exactly one beat per deployment);
any number of workers poll. Each monitor's polls are spread over its interval
by a stable per-monitor offset, so a thousand monitors at 60 s do not all fire
at second 0. A poll carries its scheduled instant; a stale result is dropped.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk.tasks import enqueue
from monitoring import connectors
from monitoring.connectors.base import SourceError
from monitoring.models import PULL_KINDS, MetricSource, Monitor, MonitorState, Severity, SourceKind
from monitoring.services import alerts

log = logging.getLogger(__name__)

# Three failed polls in a row make a source alert (docs/MONITORING.md "Alerts").
SOURCE_FAILURES_TO_ALERT = 3


def poll_offset(monitor_id: int, interval: int) -> int:
    """A stable offset in [0, interval): the same monitor always gets the same slot."""
    digest = hashlib.sha256(f"monitor:{monitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % interval


def next_slot(monitor_id: int, interval: int, after: datetime) -> datetime:
    """The first instant after ``after`` in this monitor's slot of the interval grid."""
    offset = poll_offset(monitor_id, interval)
    epoch = int(after.timestamp())
    slot = epoch - ((epoch - offset) % interval) + interval
    return datetime.fromtimestamp(slot, tz=UTC)


def monitors_dispatch_due(*, now: datetime | None = None, limit: int = 1000) -> list[tuple[int, str]]:
    """Claim the monitors whose poll is due, move each to its next slot, and
    enqueue one poll task per monitor (after commit). Rows another dispatcher
    holds are skipped. Returns (monitor id, scheduled instant) pairs."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Monitor.objects.filter(enabled=True, source__enabled=True, source__kind__in=PULL_KINDS)
            .filter(Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True))
            .select_related("source")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by(F("next_poll_at").asc(nulls_first=True))[:limit]
        )
        jobs = []
        for monitor in due:
            scheduled = monitor.next_poll_at or now
            monitor.next_poll_at = next_slot(monitor.pk, monitor.source.poll_interval_seconds, now)
            jobs.append((monitor.pk, scheduled.isoformat()))
        Monitor.objects.bulk_update(due, ["next_poll_at"])
        transaction.on_commit(lambda: [enqueue("monitoring.poll_monitor", fallback=False, monitor_id=m, scheduled_at=s) for m, s in jobs])
    return jobs


def _claim(monitor: Monitor, now: datetime) -> bool:
    """Hold the monitor for the length of one poll; False when a poll is in flight."""
    # A fetch may take up to about twice the timeout (connect, then read).
    until = now + timedelta(seconds=2 * monitor.source.timeout_seconds + 5)
    return bool(
        Monitor.objects.filter(pk=monitor.pk)
        .filter(Q(poll_lock_until__isnull=True) | Q(poll_lock_until__lt=now))
        .update(poll_lock_until=until)
    )


def monitor_poll(
    *, monitor_id: int, scheduled_at: datetime, last_attempt: bool = True, now: datetime | None = None
) -> str:
    """Fetch one reading and evaluate it. Returns what happened (for logs and tests).

    Raises SourceError for a retryable failure so the task can retry it. A poll
    counts as failed once, on its last attempt (``last_attempt=False`` when the
    task will retry it), so three failed polls, not retries, raise the source alert."""
    monitor = Monitor.objects.select_related("source", "application").filter(pk=monitor_id).first()
    if monitor is None or not monitor.enabled:
        return "gone"
    if monitor.evaluated_at is not None and scheduled_at <= monitor.evaluated_at:
        return "stale"
    if now is not None and now - scheduled_at > timedelta(seconds=max(60, monitor.source.poll_interval_seconds)):
        # Queued behind a worker outage: the current value would be stamped with
        # an old instant. The next scheduled poll reads it with the right time.
        return "late"
    if not _claim(monitor, timezone.now()):
        return "busy"
    try:
        reading = connectors.fetch(monitor.source, monitor, scheduled_at)
    except SourceError as exc:
        if last_attempt or not exc.retryable:
            source_failed(monitor.source, str(exc), at=scheduled_at)
        if exc.retryable:
            raise
        return "error"
    finally:
        Monitor.objects.filter(pk=monitor.pk).update(poll_lock_until=None)
    source_succeeded(monitor.source, at=scheduled_at)
    outcome = alerts.reading_record(monitor_id=monitor.pk, value=reading.value, at=reading.at)
    if monitor.source.kind == SourceKind.RETRACE:
        _sync_source_alerts(monitor, reading)
    return outcome.status


def _sync_source_alerts(monitor: Monitor, reading: connectors.Reading) -> None:
    """Retrace lists its own firing monitors; they become alerts of the application."""
    prefix = f"retrace:{monitor.source_id}:{monitor.application_id}:"
    seen = []
    for external in reading.alerts:
        fingerprint = prefix + external.name
        seen.append(fingerprint)
        alerts.external_alert_firing(
            fingerprint=fingerprint,
            name=external.name,
            severity=external.severity,
            at=external.since or reading.at,
            application=monitor.application,
            source=monitor.source,
            labels=external.labels,
            value=external.value,
        )
    alerts.external_alerts_resolve_missing(prefix=prefix, seen=seen, at=reading.at)


def source_failed(source: MetricSource, error: str, *, at: datetime) -> None:
    """Count the failure once per polling round (a source with many monitors
    fails once per interval, not once per monitor); the third failed round in a
    row raises one source alert and puts its monitors in no_data instead of
    alerting on them."""
    round_start = at - timedelta(seconds=source.poll_interval_seconds / 2)
    MetricSource.objects.filter(pk=source.pk).filter(
        Q(consecutive_failures=0) | Q(last_failed_at__isnull=True) | Q(last_failed_at__lte=round_start)
    ).update(consecutive_failures=F("consecutive_failures") + 1, last_failed_at=at)
    MetricSource.objects.filter(pk=source.pk).update(last_error=error[:2000], last_polled_at=at)
    failures = MetricSource.objects.values_list("consecutive_failures", flat=True).get(pk=source.pk)
    if failures >= SOURCE_FAILURES_TO_ALERT:
        Monitor.objects.filter(source=source).update(state=MonitorState.NO_DATA)
        alerts.external_alert_firing(
            fingerprint=alerts.source_fingerprint(source),
            name=f"Metric source {source.name} is failing",
            severity=Severity.CRITICAL,
            at=at,
            source=source,
            summary=f"{failures} polls in a row failed. Last error: {error[:500]}",
        )


def source_succeeded(source: MetricSource, *, at: datetime) -> None:
    if source.consecutive_failures or source.last_error:
        MetricSource.objects.filter(pk=source.pk).update(consecutive_failures=0, last_error="", last_polled_at=at)
        alerts.external_alert_resolved(fingerprint=alerts.source_fingerprint(source), at=at)
    else:
        MetricSource.objects.filter(pk=source.pk).update(last_polled_at=at)
