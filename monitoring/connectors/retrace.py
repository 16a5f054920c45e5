"""Retrace-style dashboard: ``GET base_url`` returns one application's dashboard JSON.

The contract (fields, units, alerts) is documented in docs/RETRACE.md. The
monitor's query names a top-level metric (``avg_response_ms``, ``error_rate``,
...); the dashboard's own alerts come back with every reading, each labelled
``{"monitor": <its monitor name>}``, and the services deduplicate them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitoring.connectors.base import ExternalAlert, Reading, SourceError, as_number, severity_from
from monitoring.connectors.transport import get_json, safe_url

if TYPE_CHECKING:
    from monitoring.models import MetricSource, Monitor

METRICS = ("satisfaction", "avg_response_ms", "requests_per_minute", "error_rate", "cpu_pct", "memory_pct")


def parse_since(raw: Any) -> datetime | None:
    """An ISO 8601 string (``Z`` or an offset; no offset means UTC) or Unix
    seconds; anything else is unknown (None) rather than an error."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        try:
            return datetime.fromtimestamp(raw, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def parse_alerts(raw: Any, where: str) -> tuple[ExternalAlert, ...]:
    """The dashboard's ``alerts``; missing or null means none. A list of objects
    each naming its ``monitor`` is the contract: anything else is rejected so a
    broken exporter shows up as a failing source, not as silently lost alerts."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SourceError(f"'alerts' of {where} is not a list", retryable=False)
    alerts = []
    for index, item in enumerate(raw):
        name = item.get("monitor") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise SourceError(f"alerts[{index}] of {where} is not an object with a 'monitor' name", retryable=False)
        name = name.strip()
        alerts.append(
            ExternalAlert(
                name=name,
                severity=severity_from(item.get("severity")),
                since=parse_since(item.get("since")),
                value=as_number(item.get("value")),
                labels={"monitor": name},
            )
        )
    return tuple(alerts)


def fetch(source: MetricSource, monitor: Monitor, at: datetime) -> Reading:
    data = get_json(source, source.base_url)
    where = safe_url(source.base_url)
    if not isinstance(data, dict):
        raise SourceError(f"{where} did not return a dashboard object", retryable=False)
    metric = monitor.query.strip()
    # Any top-level field may be a metric (an exporter can add its own); a field
    # that is absent, null or not a number is "no data" for this poll.
    value = as_number(data.get(metric)) if metric and metric != "alerts" else None
    return Reading(value=value, at=at, alerts=parse_alerts(data.get("alerts"), where))
