"""Push ingest: Alertmanager webhooks (payload version 4) and raw samples.

Senders authenticate with the bearer token generated for their source; only
its SHA-256 is stored. Alertmanager re-sends firing alerts every few minutes:
every repeat is a no-op, deduplicated by fingerprint.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from helpdesk.errors import MAX_ID, InvalidInput, field_error
from monitoring.models import Application, MetricSource, Monitor
from monitoring.services import alerts

# Pushed samples may be this far ahead of our clock (senders' clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)

SEVERITY_ALIASES = {
    "outage": "outage",
    "page": "critical",
    "critical": "critical",
    "error": "critical",
    "high": "critical",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "warning",
    "low": "warning",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def push_token_issue(source: MetricSource) -> str:
    """A new bearer token for a push source; returned once, stored hashed."""
    token = secrets.token_urlsafe(32)
    source.push_token_hash = _hash(token)
    source.save(update_fields=["push_token_hash"])
    return token


def source_for_token(token: str, kind: str) -> MetricSource | None:
    if not token or len(token) > 200:
        return None
    source = MetricSource.objects.filter(push_token_hash=_hash(token), kind=kind, enabled=True).first()
    # The lookup is by hash; compare again in constant time all the same.
    if source is None or not secrets.compare_digest(source.push_token_hash, _hash(token)):
        return None
    return source


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, "", "0001-01-01T00:00:00Z"):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        # In UTC now: a well-formed but impossible time (Feb 30, +25:00) or one UTC
        # cannot hold (year 1 at +05:00) is refused, not stored to break later reads.
        parsed = parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else parsed
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise field_error(field, f"Not an ISO 8601 time with a zone: {value!r}.")
    return parsed


def alertmanager_ingest(*, source: MetricSource, payload: Any) -> dict[str, int]:
    """Apply an Alertmanager webhook: firing alerts open or refresh, resolved ones resolve."""
    if not isinstance(payload, dict) or str(payload.get("version")) != "4":
        raise field_error("version", "Alertmanager webhook payload version 4 expected.")
    items = payload.get("alerts")
    if not isinstance(items, list) or len(items) > 5000:
        raise field_error("alerts", "A list of at most 5000 alerts expected.")
    parsed = [_alertmanager_alert(item, index) for index, item in enumerate(items)]
    slugs = {p["slug"] for p in parsed if p["slug"]}
    apps = {a.slug: a for a in Application.objects.filter(slug__in=slugs)}
    counts = {"opened": 0, "repeated": 0, "resolved": 0, "ignored": 0}
    now = timezone.now()
    for item in parsed:
        fingerprint = f"am:{source.pk}:{item['fingerprint']}"
        if item["status"] == "resolved":
            resolved = alerts.external_alert_resolved(fingerprint=fingerprint, at=item["ends_at"] or now)
            counts["resolved" if resolved else "ignored"] += 1
            continue
        _, created = alerts.external_alert_firing(
            fingerprint=fingerprint,
            name=item["name"],
            severity=item["severity"],
            at=item["starts_at"] or now,
            application=apps.get(item["slug"]),
            source=source,
            labels=item["labels"],
            summary=item["summary"],
        )
        counts["opened" if created else "repeated"] += 1
    return counts


def _alertmanager_alert(item: Any, index: int) -> dict[str, Any]:
    where = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise field_error(where, "An object expected.")
    labels = item.get("labels") or {}
    annotations = item.get("annotations") or {}
    if not isinstance(labels, dict) or not isinstance(annotations, dict):
        raise field_error(where, "labels and annotations must be objects.")
    labels = {str(k)[:200]: str(v)[:1000] for k, v in labels.items()}
    status = item.get("status")
    if status not in ("firing", "resolved"):
        raise field_error(f"{where}.status", "firing or resolved.")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 100:
        # Alertmanager always sends one; for other senders the label set is the identity.
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:32]
    return {
        "fingerprint": fingerprint,
        "status": status,
        "name": labels.get("alertname", "alert"),
        "severity": SEVERITY_ALIASES.get(labels.get("severity", "").lower(), "warning"),
        "slug": labels.get("application", ""),
        "labels": labels,
        "summary": str(annotations.get("summary") or annotations.get("description") or "")[:5000],
        "starts_at": _time(item.get("startsAt"), f"{where}.startsAt"),
        "ends_at": _time(item.get("endsAt"), f"{where}.endsAt"),
    }


def samples_ingest(*, source: MetricSource, rows: Any) -> dict[str, int]:
    """Raw samples [{"monitor", "value", "at"}] for monitors of this push source."""
    if not isinstance(rows, list) or not rows or len(rows) > 10_000:
        raise InvalidInput({"detail": "A non-empty list of at most 10000 samples expected."})
    parsed = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise field_error(f"[{index}]", "An object expected.")
        monitor_id, value = row.get("monitor"), row.get("value")
        if isinstance(monitor_id, bool) or not isinstance(monitor_id, int) or not 0 < monitor_id <= MAX_ID:
            raise field_error(f"[{index}].monitor", "A monitor id expected.")
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e308:
            raise field_error(f"[{index}].value", "A number expected.")
        at = _time(row.get("at"), f"[{index}].at") or timezone.now()
        if at > timezone.now() + FUTURE_TOLERANCE:
            # A reading from the future would make every real one after it stale.
            raise field_error(f"[{index}].at", "More than 5 minutes in the future.")
        parsed.append((monitor_id, float(value), at))
    owned = set(Monitor.objects.filter(source=source, pk__in={m for m, _, _ in parsed}).values_list("pk", flat=True))
    unknown = sorted({m for m, _, _ in parsed} - owned)
    if unknown:
        raise field_error("monitor", f"Not monitors of this source: {', '.join(map(str, unknown))}.")
    counts = {"evaluated": 0, "stale": 0, "no_data": 0}
    for monitor_id, value, at in sorted(parsed, key=lambda p: p[2]):
        counts[alerts.reading_record(monitor_id=monitor_id, value=value, at=at).status] += 1
    return counts

