"""Monitoring data as charts: which band, which thresholds, which points to keep.

The drawing itself is :mod:`helpdesk.svg_charts`; this module only decides what a
monitor's chart shows, for the monitoring pages and for incident snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString

from helpdesk import svg_charts
from monitoring.baselines import Band
from monitoring.models import BaselineKind, Direction, Monitor


def _keep(direction: str) -> str:
    return "min" if direction == Direction.BELOW else "max"


def _band_between(band: Mapping[str, Any] | None, start: datetime, end: datetime) -> list[svg_charts.BandPoint] | None:
    """A learned band drawn across [start, end]; None while learning or one-sided."""
    learned = Band.from_dict(dict(band or {}))
    if learned.learning or learned.lower is None or learned.upper is None:
        return None
    return [(start, learned.lower, learned.upper), (end, learned.lower, learned.upper)]


def monitor_chart(
    monitor: Monitor, points: Sequence[tuple[datetime, float]], *, start: datetime, end: datetime
) -> SafeString:
    """A monitor's samples over [start, end]. A dynamic monitor shows its current
    learned band (the cached baseline), a static one its warning and critical
    thresholds."""
    unit = monitor.unit
    if monitor.baseline_kind == BaselineKind.DYNAMIC:
        band, thresholds = _band_between(monitor.baseline, start, end), None
    else:
        band, thresholds = None, {"warning": monitor.warning, "critical": monitor.critical}
    return svg_charts.line_chart(
        points,
        title=f"{monitor.name}{f' ({unit})' if unit else ''}",
        unit=unit,
        start=start,
        end=end,
        band=band,
        thresholds=thresholds,
        keep=_keep(monitor.direction),
    )


def snapshot_chart(snapshot: Mapping[str, Any], *, title: str) -> SafeString:
    """The chart kept with an alert (``Alert.snapshot``) as it was when it fired:
    its series with the learned band it was judged against, or the static
    thresholds."""
    points = []
    for row in snapshot.get("series") or []:
        try:
            moment, value = parse_datetime(str(row[0])), float(row[1])
        except (TypeError, ValueError, IndexError):
            continue
        if moment is not None:
            points.append((moment, value))
    band = _band_between(snapshot.get("band"), points[0][0], points[-1][0]) if len(points) > 1 else None
    # A learned band is what the alert was judged against; thresholds belong to static monitors.
    thresholds = {} if band else (snapshot.get("thresholds") or {})
    return svg_charts.line_chart(
        points,
        title=title,
        unit=str(snapshot.get("unit") or ""),
        band=band,
        thresholds={"warning": thresholds.get("warning"), "critical": thresholds.get("critical")},
        keep=_keep(str(snapshot.get("direction") or "")),
    )
