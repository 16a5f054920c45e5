"""Monitoring reads for the API and pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Max, Min, QuerySet
from django.db.models.functions import TruncHour, TruncMinute

from catalog.models import Application
from helpdesk.errors import InvalidInput
from monitoring.filters import AlertFilter, SilenceFilter
from monitoring.models import (
    SEVERITY_RANK,
    Alert,
    AlertState,
    Direction,
    Monitor,
    MonitorState,
    Sample,
    Severity,
    Silence,
)
from monitoring.services.health import AppScore, app_scores
from tickets.selectors.scoped import open_incident_counts, open_incidents_for


def sample_list(
    *, monitor: Monitor, since: datetime | None = None, until: datetime | None = None, newest_first: bool = False
) -> QuerySet[Sample]:
    """A monitor's samples in [since, until), ordered by time (uses the
    (monitor, at) unique index)."""
    samples = Sample.objects.filter(monitor=monitor)
    if since is not None:
        samples = samples.filter(at__gte=since)
    if until is not None:
        samples = samples.filter(at__lt=until)
    return samples.order_by("-at" if newest_first else "at")


BUCKETS = {"minute": TruncMinute, "hour": TruncHour}


def monitor_series(
    *, monitors: Sequence[Monitor], since: datetime, until: datetime, bucket: str = "minute"
) -> dict[int, list[tuple[datetime, float]]]:
    """Each monitor's samples in [since, until) for a chart, one value per minute or
    hour (``bucket``): the worst of the bucket (the highest for a monitor where
    above is bad, the lowest otherwise), so thinning never hides a breach.
    One grouped query for any number of monitors; buckets are UTC."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    below = {m.pk for m in monitors if m.direction == Direction.BELOW}
    series: dict[int, list[tuple[datetime, float]]] = {m.pk: [] for m in monitors}
    if not series:
        return series
    rows = (
        Sample.objects.filter(monitor__in=list(series), at__gte=since, at__lt=until)
        .annotate(bucket=BUCKETS[bucket]("at", tzinfo=UTC))
        .values("monitor_id", "bucket")
        .annotate(high=Max("value"), low=Min("value"))
        .order_by("monitor_id", "bucket")
    )
    for row in rows:
        worst = row["low"] if row["monitor_id"] in below else row["high"]
        series[row["monitor_id"]].append((row["bucket"], worst))
    return series


def application_health(application: Application) -> dict[str, Any]:
    """App Score plus what is wrong right now: firing alerts and open incidents."""
    score = app_scores([application.pk])[application.pk]
    firing = Alert.objects.filter(application=application, state=AlertState.FIRING).order_by("-started_at")[:20]
    incidents = open_incidents_for(application_id=application.pk)[:20]
    return {
        "application": application.pk,
        **score.as_dict(),
        "firing_alerts": [
            {
                "id": a.pk,
                "name": a.name,
                "severity": a.severity,
                "started_at": a.started_at,
                "ticket": a.ticket_id,
                "acknowledged": a.acknowledged,
            }
            for a in firing
        ],
        "open_incidents": [
            {"id": t.pk, "number": t.number, "title": t.title, "priority": t.priority, "linked_count": t.linked_count}
            for t in incidents
        ],
    }


# --- application overview (the monitoring home page) -------------------------------------


def health_state(*, worst_severity: str | None, no_data: bool) -> str:
    """One word for an application's health, as the monitor states say it: a
    critical or outage alert firing is ``critical``, a warning ``warning``;
    nothing firing but a monitor without data is ``no_data``; else ``ok``."""
    if worst_severity in (Severity.CRITICAL, Severity.OUTAGE):
        return MonitorState.CRITICAL
    if worst_severity == Severity.WARNING:
        return MonitorState.WARNING
    return MonitorState.NO_DATA if no_data else MonitorState.OK


@dataclass(frozen=True)
class ApplicationOverview:
    application: Application
    score: AppScore
    state: str
    firing_alerts: int
    open_incidents: int


def application_overviews(applications: Sequence[Application]) -> list[ApplicationOverview]:
    """App Score, health state and counts of firing alerts and open incidents for
    each application, in five queries whatever their number."""
    ids = [application.pk for application in applications]
    if not ids:
        return []
    scores = app_scores(ids)
    firing: dict[int, int] = {}
    worst: dict[int, str] = {}
    rows = (
        Alert.objects.filter(state=AlertState.FIRING, application_id__in=ids)
        .order_by()
        .values("application_id", "severity")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        app_id, severity = row["application_id"], row["severity"]
        firing[app_id] = firing.get(app_id, 0) + row["n"]
        if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK.get(worst.get(app_id), 0):
            worst[app_id] = severity
    no_data = set(
        Monitor.objects.filter(application_id__in=ids, enabled=True, state=MonitorState.NO_DATA)
        .order_by()
        .values_list("application_id", flat=True)
        .distinct()
    )
    incidents = open_incident_counts(application_ids=ids)
    return [
        ApplicationOverview(
            application=application,
            score=scores[application.pk],
            state=health_state(worst_severity=worst.get(application.pk), no_data=application.pk in no_data),
            firing_alerts=firing.get(application.pk, 0),
            open_incidents=incidents.get(application.pk, 0),
        )
        for application in applications
    ]


# --- alerts and silences -----------------------------------------------------------------


def firing_alert_count() -> int:
    """Alerts firing now, of every application and source (the dashboard's figure)."""
    return Alert.objects.filter(state=AlertState.FIRING).count()


def _filtered(filterset_class: type, data: Mapping[str, Any], queryset: QuerySet) -> QuerySet:
    filterset = filterset_class(data=data, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidInput({field: list(errors) for field, errors in filterset.errors.items()})
    return filterset.qs


def alert_list(*, filters: Mapping[str, Any]) -> QuerySet[Alert]:
    """Alerts narrowed by :class:`~monitoring.filters.AlertFilter` (state,
    application, severity, monitor, acknowledged), newest first, with what a list
    shows joined in. Junk filter values raise InvalidInput."""
    queryset = Alert.objects.select_related("application", "acknowledged_by").order_by("-started_at", "-id")
    return _filtered(AlertFilter, filters, queryset)


def silence_list(*, filters: Mapping[str, Any]) -> QuerySet[Silence]:
    """Silences narrowed by :class:`~monitoring.filters.SilenceFilter`, latest start first."""
    queryset = Silence.objects.select_related("application", "monitor__application", "created_by").order_by(
        "-starts_at", "-id"
    )
    return _filtered(SilenceFilter, filters, queryset)
