"""Evaluation of readings against baselines, and the alert lifecycle.

Idempotency rules (docs/MONITORING.md "Alerts"): a reading carries its instant; one older
than the monitor's last evaluation is dropped. Every transition happens under
the monitor's row lock, and open alerts have a partial unique constraint on
their fingerprint, so redelivered polls, retries, duplicate webhooks or two
workers never make a second alert or incident.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Application
from monitoring import baselines
from monitoring.baselines import Band
from monitoring.models import (
    SEVERITY_RANK,
    Alert,
    AlertState,
    BaselineKind,
    Direction,
    MetricSource,
    Monitor,
    MonitorState,
    Sample,
    Severity,
    Silence,
)
from monitoring.services import incidents

# A dynamic baseline is recomputed at most this often (never on every poll).
BASELINE_TTL = timedelta(minutes=5)
# Points of history kept in an incident's chart snapshot.
SNAPSHOT_POINTS = 120


def monitor_fingerprint(monitor: Monitor | int) -> str:
    return f"monitor:{monitor if isinstance(monitor, int) else monitor.pk}"


def source_fingerprint(source: MetricSource | int) -> str:
    return f"source:{source if isinstance(source, int) else source.pk}"


# --- baselines ---------------------------------------------------------------------


def static_band(monitor: Monitor) -> Band:
    """The warning threshold as the edge of normal, for charts and snapshots."""
    edge = monitor.warning if monitor.warning is not None else monitor.critical
    if monitor.direction == Direction.ABOVE:
        return Band(lower=None, upper=edge, center=None)
    return Band(lower=edge, upper=None, center=None)


def current_band(monitor: Monitor, at: datetime) -> Band:
    """The monitor's band at ``at``: static thresholds, or the cached dynamic
    baseline, recomputed from stored samples when older than BASELINE_TTL."""
    if monitor.baseline_kind == BaselineKind.STATIC:
        return static_band(monitor)
    fresh = monitor.baseline_computed_at is not None and at - monitor.baseline_computed_at < BASELINE_TTL
    utc = at.astimezone(UTC)  # the seasonal slot is the hour of the week in UTC
    slot = f"{utc.weekday()}-{utc.hour}" if monitor.seasonal else ""
    if fresh and monitor.baseline and monitor.baseline.get("slot", "") == slot:
        return Band.from_dict(monitor.baseline)
    band = compute_band(monitor, at)
    monitor.baseline = {**band.as_dict(), "slot": slot}
    monitor.baseline_computed_at = at
    return band


# A dynamic baseline keeps learning until its history spans this share of the
# window: a band learned from one night alone would alarm on the first morning.
MIN_WINDOW_COVERAGE = 0.8


def compute_band(monitor: Monitor, at: datetime) -> Band:
    span = timedelta(minutes=monitor.window_minutes)
    learned = Sample.objects.filter(monitor=monitor, in_alert=False, at__lt=at)
    window = learned.filter(at__gte=at - span)
    if monitor.seasonal:
        # Same hour of the week over the last five weeks, plus the window for the fallback.
        utc = at.astimezone(UTC)  # the database extracts week day and hour in UTC too
        slot = learned.filter(
            at__gte=at - timedelta(weeks=5), at__week_day=(utc.isoweekday() % 7) + 1, at__hour=utc.hour
        )
        samples = list((window | slot).order_by("at").values_list("at", "value"))
        band = baselines.seasonal_band(
            samples, at, sensitivity=monitor.sensitivity, min_samples=monitor.min_samples, window=span
        )
    else:
        samples = list(window.order_by("at").values_list("at", "value"))
        band = baselines.dynamic_band(
            [value for _, value in samples], sensitivity=monitor.sensitivity, min_samples=monitor.min_samples
        )
    if not samples or samples[0][0] > at - span * MIN_WINDOW_COVERAGE:
        return dataclasses.replace(band, learning=True)
    return band


def severity_of(monitor: Monitor, value: float, band: Band) -> str | None:
    if monitor.baseline_kind == BaselineKind.STATIC:
        return baselines.static_severity(
            value=value,
            direction=monitor.direction,
            warning=monitor.warning,
            critical=monitor.critical,
            outage=monitor.outage,
        )
    severity = baselines.dynamic_severity(
        value=value, band=band, direction=monitor.direction, sensitivity=monitor.sensitivity
    )
    # An explicit outage threshold still applies on a dynamic baseline.
    if monitor.outage is not None and baselines.static_severity(
        value=value, direction=monitor.direction, warning=None, critical=None, outage=monitor.outage
    ):
        return Severity.OUTAGE
    return severity


def silenced(monitor: Monitor, at: datetime) -> bool:
    return Silence.objects.filter(
        Q(monitor=monitor) | Q(monitor__isnull=True, application=monitor.application_id)
        | Q(monitor__isnull=True, application__isnull=True),
        starts_at__lte=at,
        ends_at__gt=at,
    ).exists()


# --- evaluation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str  # "stale" | "no_data" | "evaluated"
    state: str = ""
    action: str = ""
    alert_id: int | None = None


def reading_record(*, monitor_id: int, value: float | None, at: datetime) -> Outcome:
    """Store a reading and move the monitor's alert state machine.

    Locks the monitor row for the whole evaluation: concurrent polls of one
    monitor serialise here, and the later one finds its reading stale.
    """
    with transaction.atomic():
        monitor = Monitor.objects.select_for_update().select_related("application", "source").get(pk=monitor_id)
        if monitor.evaluated_at is not None and at <= monitor.evaluated_at:
            return Outcome("stale", monitor.state)
        monitor.evaluated_at = at
        monitor.last_polled_at = timezone.now()
        if value is None or not math.isfinite(value):
            monitor.state = MonitorState.NO_DATA
            monitor.save()
            return Outcome("no_data", monitor.state)

        firing = Alert.objects.select_for_update().filter(fingerprint=monitor_fingerprint(monitor), state=AlertState.FIRING).first()
        Sample.objects.bulk_create(
            [Sample(monitor=monitor, at=at, value=value, in_alert=firing is not None)], ignore_conflicts=True
        )
        monitor.last_value = value
        band = current_band(monitor, at)
        if band.learning and firing is not None and firing.snapshot.get("band"):
            # The window holds only samples taken while firing (never learned from):
            # judge recovery against the band the alert fired on, not "no baseline".
            band = Band.from_dict(firing.snapshot["band"])
        severity = None if band.learning else severity_of(monitor, value, band)
        action, monitor.breach_count, monitor.ok_count = baselines.hysteresis(
            breach_count=monitor.breach_count,
            ok_count=monitor.ok_count,
            severity=severity,
            firing=firing is not None,
            breach_polls=monitor.breach_polls,
            recover_polls=monitor.recover_polls,
        )
        monitor.state = _state_for(band, severity)
        if firing is None and action == baselines.FIRE and not silenced(monitor, at):
            firing = _open_monitor_alert(monitor, severity or Severity.WARNING, value, at, band)
        elif firing is not None:
            firing.last_value, firing.last_seen_at = value, at
            firing.save(update_fields=["last_value", "last_seen_at"])
            if severity and SEVERITY_RANK[severity] > SEVERITY_RANK[firing.severity]:
                _raise_severity(firing, severity)
            elif action == baselines.RESOLVE:
                _resolve(firing, at)
                firing = None
        monitor.save()
        return Outcome("evaluated", monitor.state, action, firing.pk if firing else None)


def _state_for(band: Band, severity: str | None) -> str:
    if band.learning:
        return MonitorState.LEARNING
    if severity is None:
        return MonitorState.OK
    return MonitorState.WARNING if severity == Severity.WARNING else MonitorState.CRITICAL


def chart_snapshot(monitor: Monitor, at: datetime, band: Band) -> dict[str, Any]:
    """The series, band and thresholds as the engineer would have seen them."""
    series = list(
        Sample.objects.filter(monitor=monitor, at__lte=at).order_by("-at").values_list("at", "value")[:SNAPSHOT_POINTS]
    )
    return {
        "series": [[moment.isoformat(), value] for moment, value in reversed(series)],
        "band": band.as_dict(),
        "thresholds": {"warning": monitor.warning, "critical": monitor.critical, "outage": monitor.outage},
        "unit": monitor.unit,
        "direction": monitor.direction,
        "taken_at": at.isoformat(),
    }


def _open_monitor_alert(monitor: Monitor, severity: str, value: float, at: datetime, band: Band) -> Alert:
    alert = Alert.objects.create(
        monitor=monitor,
        source=monitor.source,
        application=monitor.application,
        fingerprint=monitor_fingerprint(monitor),
        name=monitor.name,
        summary=f"{monitor.name} is {value:g}{' ' + monitor.unit if monitor.unit else ''} ({monitor.direction} normal).",
        severity=severity,
        started_at=at,
        last_seen_at=at,
        last_value=value,
        snapshot=chart_snapshot(monitor, at, band),
    )
    # From now on samples are not learned from.
    Sample.objects.filter(monitor=monitor, at=at).update(in_alert=True)
    alert.ticket = incidents.incident_open(alert)
    alert.save(update_fields=["ticket"])
    return alert


def _raise_severity(alert: Alert, severity: str) -> None:
    before = alert.severity
    alert.severity = severity
    alert.save(update_fields=["severity"])
    incidents.incident_severity_changed(alert, before)


def _resolve(alert: Alert, at: datetime) -> None:
    alert.state, alert.resolved_at = AlertState.RESOLVED, at
    alert.save(update_fields=["state", "resolved_at"])
    incidents.incident_recovered(alert)


# --- alerts without a monitor: Alertmanager, Retrace's own, failing sources -------------


def external_alert_firing(
    *,
    fingerprint: str,
    name: str,
    severity: str,
    at: datetime,
    application: Application | None = None,
    source: MetricSource | None = None,
    labels: dict | None = None,
    summary: str = "",
    value: float | None = None,
) -> tuple[Alert, bool]:
    """Open the alert for this fingerprint, or refresh the one already firing
    (a repeat is a no-op but for last_seen and a rise in severity). Returns
    (alert, created)."""
    with transaction.atomic():
        existing = Alert.objects.select_for_update().filter(fingerprint=fingerprint, state=AlertState.FIRING).first()
        if existing is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        fingerprint=fingerprint,
                        name=name[:300],
                        severity=severity,
                        started_at=at,
                        last_seen_at=at,
                        application=application,
                        source=source,
                        labels=labels or {},
                        summary=summary,
                        last_value=value,
                    )
            except IntegrityError:
                # A concurrent delivery opened it first: treat ours as a repeat.
                existing = Alert.objects.select_for_update().get(fingerprint=fingerprint, state=AlertState.FIRING)
            else:
                alert.ticket = incidents.incident_open(alert)
                alert.save(update_fields=["ticket"])
                return alert, True
        existing.last_seen_at = max(existing.last_seen_at, at)
        if value is not None:
            existing.last_value = value
        existing.save(update_fields=["last_seen_at", "last_value"])
        if SEVERITY_RANK[severity] > SEVERITY_RANK[existing.severity]:
            _raise_severity(existing, severity)
        return existing, False


def external_alert_resolved(*, fingerprint: str, at: datetime) -> Alert | None:
    """Resolve the firing alert of this fingerprint; a recovery without one is ignored."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(fingerprint=fingerprint, state=AlertState.FIRING).first()
        if alert is None:
            return None
        _resolve(alert, at)
        return alert


def external_alerts_resolve_missing(*, prefix: str, seen: Iterable[str], at: datetime) -> int:
    """Resolve this prefix's firing alerts that the source no longer lists."""
    seen = set(seen)
    stale = (
        Alert.objects.filter(fingerprint__startswith=prefix, state=AlertState.FIRING)
        .exclude(fingerprint__in=seen)
        .values_list("fingerprint", flat=True)
    )
    return sum(1 for fingerprint in list(stale) if external_alert_resolved(fingerprint=fingerprint, at=at))


def alert_acknowledge(*, alert: Alert, actor: Any) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if not alert.acknowledged:
            alert.acknowledged, alert.acknowledged_by, alert.acknowledged_at = True, actor, timezone.now()
            alert.save(update_fields=["acknowledged", "acknowledged_by", "acknowledged_at"])
    return alert
