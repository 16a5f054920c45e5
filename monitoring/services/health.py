"""Application health: a Retrace-style App Score (A-F) over the last 7 days.

The score starts from user satisfaction (Apdex, 0..1, as 0..100; 100 when no
satisfaction metric is monitored), loses up to 30 points for the error rate
(5 points per percent) and up to 30 for time spent with a firing alert (half a
point per percent of the window). Grades: A >= 90, B >= 80, C >= 70, D >= 60,
else F. Two queries for any number of applications.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Q
from django.utils import timezone

from monitoring.models import Alert, Sample

WINDOW = timedelta(days=7)
GRADES = ((90, "A"), (80, "B"), (70, "C"), (60, "D"))


@dataclass(frozen=True)
class AppScore:
    score: float
    grade: str
    satisfaction: float | None
    error_rate: float | None
    alert_time_pct: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grade_for(score: float) -> str:
    return next((grade for floor, grade in GRADES if score >= floor), "F")


def score_from(*, satisfaction: float | None, error_rate: float | None, alert_time_pct: float) -> AppScore:
    score = 100.0 * (satisfaction if satisfaction is not None else 1.0)
    score -= min(30.0, 5.0 * (error_rate or 0.0))
    score -= min(30.0, 0.5 * alert_time_pct)
    score = round(max(0.0, min(100.0, score)), 1)
    return AppScore(score, grade_for(score), satisfaction, error_rate, round(alert_time_pct, 2))


def app_scores(application_ids: list[int], *, now: datetime | None = None) -> dict[int, AppScore]:
    """App Score per application id over the 7 days before ``now``."""
    now = now or timezone.now()
    since = now - WINDOW
    averages = (
        Sample.objects.filter(
            monitor__application_id__in=application_ids,
            monitor__query__in=("satisfaction", "error_rate"),
            at__gte=since,
            at__lt=now,
        )
        .values("monitor__application_id", "monitor__query")
        .annotate(avg=Avg("value"))
        .order_by()
    )
    metric: dict[tuple[int, str], float] = {
        (row["monitor__application_id"], row["monitor__query"]): row["avg"] for row in averages
    }
    alert_seconds: dict[int, float] = {}
    overlapping = Alert.objects.filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gt=since),
        application_id__in=application_ids,
        started_at__lt=now,
    ).values_list("application_id", "started_at", "resolved_at")
    # Overlapping alerts of one application are counted once: merge the intervals.
    intervals: dict[int, list[tuple[datetime, datetime]]] = {}
    for app_id, started, resolved in overlapping:
        intervals.setdefault(app_id, []).append((max(started, since), min(resolved or now, now)))
    for app_id, spans in intervals.items():
        total, end = 0.0, since
        for start, stop in sorted(spans):
            start = max(start, end)
            if stop > start:
                total += (stop - start).total_seconds()
                end = stop
        alert_seconds[app_id] = total
    return {
        app_id: score_from(
            satisfaction=metric.get((app_id, "satisfaction")),
            error_rate=metric.get((app_id, "error_rate")),
            alert_time_pct=100.0 * alert_seconds.get(app_id, 0.0) / WINDOW.total_seconds(),
        )
        for app_id in application_ids
    }
