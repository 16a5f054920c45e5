"""Push ingest: Alertmanager webhooks (payload version 4) and raw samples.

Senders authenticate with the bearer token generated for their source; only
its SHA-256 is stored. Alertmanager re-sends firing alerts every few minutes:
every repeat is a no-op, deduplicated by fingerprint.

Work per request is bounded: an Alertmanager push of more than
HELPDESK_ALERTMANAGER_INLINE_ALERTS alerts is stored and applied by a worker
(AlertmanagerPush), one over HELPDESK_ALERTMANAGER_MAX_ALERTS is refused (413), and
so are more than HELPDESK_PUSH_MAX_SAMPLES raw samples.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Application
from helpdesk import text
from helpdesk.errors import MAX_ID, InvalidInput, TooLarge, field_error
from helpdesk.tasks import enqueue
from monitoring.models import AlertmanagerPush, AlertState, MetricSource, Monitor, Severity
from monitoring.services import alerts

# Pushed samples may be this far ahead of our clock (senders' clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)
# Alerts of a stored push applied per transaction (the size of an inline push): a
# killed worker loses at most this chunk (rolled back whole), and a push arriving
# meanwhile waits for the source's lock no longer than for one small push.
APPLY_CHUNK = 20
# Applied pushes are kept this long for the operator, then purged by the sweep.
KEEP_APPLIED = timedelta(days=1)
APPLY_TASK = "monitoring.apply_alertmanager_pushes"

# The severity label's common spellings -> our severities (anything else: a warning).
SEVERITY_ALIASES = {
    "outage": Severity.OUTAGE,
    "page": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
    "error": Severity.CRITICAL,
    "high": Severity.CRITICAL,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.WARNING,
    "low": Severity.WARNING,
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
    """Apply an Alertmanager webhook: firing alerts open or refresh, resolved ones resolve.

    The whole payload is validated first (a 400 changes nothing). Pushes of one source
    take effect in arrival order (a resolution must never overtake its firing): under
    the source's row lock, a push is applied here when it holds at most
    HELPDESK_ALERTMANAGER_INLINE_ALERTS alerts and no earlier push of the source is
    waiting, and the counts are returned. Otherwise it is stored and handed to a worker
    after commit, and ``{"queued": <alerts>}`` is returned: the request never opens
    more than the inline bound of incidents, and a broker outage only delays the work
    (the sweep hands stored pushes over again).
    """
    if not isinstance(payload, dict) or str(payload.get("version")) != "4":
        raise field_error("version", "Alertmanager webhook payload version 4 expected.")
    items = payload.get("alerts")
    if not isinstance(items, list):
        raise field_error("alerts", "A list of alerts expected.")
    limit = settings.HELPDESK_ALERTMANAGER_MAX_ALERTS
    if len(items) > limit:
        # A 4xx is not retried by Alertmanager: the operator must cap the group size.
        raise TooLarge(
            f"{len(items)} alerts in one push; at most {limit} are accepted. "
            f"Set `max_alerts: {limit}` in this receiver's webhook_configs in Alertmanager."
        )
    parsed = [_alertmanager_alert(item, index) for index, item in enumerate(items)]
    with transaction.atomic():
        MetricSource.objects.select_for_update(no_key=True).filter(pk=source.pk).first()
        waiting = AlertmanagerPush.objects.filter(source=source, done_at__isnull=True).exists()
        if len(parsed) <= settings.HELPDESK_ALERTMANAGER_INLINE_ALERTS and not waiting:
            return _alertmanager_apply(source, parsed)
        AlertmanagerPush.objects.create(source=source, alerts=[_stored(p) for p in parsed], size=len(parsed))
        # No in-process fallback: the row is committed, the sweep hands it over later.
        transaction.on_commit(partial(enqueue, APPLY_TASK, fallback=False, source_id=source.pk), robust=True)
    return {"queued": len(parsed)}


def alertmanager_pushes_apply(*, source_id: int) -> int:
    """Apply the stored pushes of a source, oldest first, APPLY_CHUNK alerts per
    transaction under the source's row lock (the same lock inline pushes take, so
    the order holds). Safe to run twice or concurrently: a chunk and the push's
    ``applied`` offset commit together. Returns the number of alerts applied."""
    done = 0
    loaded: dict[int, list[dict[str, Any]]] = {}  # a push's alerts never change: read them once
    while True:
        with transaction.atomic():
            source = MetricSource.objects.select_for_update(no_key=True).filter(pk=source_id).first()
            push = (
                AlertmanagerPush.objects.select_for_update()
                .defer("alerts")
                .filter(source_id=source_id, done_at__isnull=True)
                .order_by("pk")
                .first()
            )
            if source is None or push is None:
                return done
            if push.pk not in loaded:
                loaded = {push.pk: AlertmanagerPush.objects.values_list("alerts", flat=True).get(pk=push.pk)}
            chunk = loaded[push.pk][push.applied : push.applied + APPLY_CHUNK]
            counts = _alertmanager_apply(source, [_loaded(item) for item in chunk])
            push.applied += len(chunk)
            push.counts = {key: push.counts.get(key, 0) + counts[key] for key in counts}
            if push.applied >= push.size:
                push.done_at = timezone.now()
            push.save(update_fields=["applied", "counts", "done_at"])
        done += len(chunk)


def alertmanager_pushes_resume() -> int:
    """The sweep: hand each source with waiting pushes to a worker again (the broker
    may have been down when they were stored, or a worker died), and purge pushes
    applied more than KEEP_APPLIED ago. Returns the number of sources handed over."""
    AlertmanagerPush.objects.filter(done_at__lt=timezone.now() - KEEP_APPLIED).delete()
    sources = sorted(set(AlertmanagerPush.objects.filter(done_at__isnull=True).values_list("source_id", flat=True)))
    for source_id in sources:
        enqueue(APPLY_TASK, fallback=False, source_id=source_id)
    return len(sources)


def _alertmanager_apply(source: MetricSource, parsed: list[dict[str, Any]]) -> dict[str, int]:
    slugs = {p["slug"] for p in parsed if p["slug"]}
    apps = {a.slug: a for a in Application.objects.filter(slug__in=slugs)}
    counts = {"opened": 0, "repeated": 0, "resolved": 0, "ignored": 0}
    now = timezone.now()
    for item in parsed:
        fingerprint = f"am:{source.pk}:{item['fingerprint']}"
        if item["status"] == AlertState.RESOLVED:
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


TIME_FIELDS = ("starts_at", "ends_at")


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, **{f: item[f].isoformat() if item[f] else None for f in TIME_FIELDS}}


def _loaded(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, **{f: datetime.fromisoformat(item[f]) if item[f] else None for f in TIME_FIELDS}}


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
    # Alertmanager's statuses are our alert states.
    if status not in AlertState.values:
        raise field_error(f"{where}.status", "firing or resolved.")
    fingerprint = item.get("fingerprint")
    # Refused, not cleaned: labels and the fingerprint identify the alert exactly as sent.
    text.check_data({"labels": labels, "annotations": annotations, "fingerprint": fingerprint}, field=where)
    if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 100:
        # Alertmanager always sends one; for other senders the label set is the identity.
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:32]
    return {
        "fingerprint": fingerprint,
        "status": status,
        "name": labels.get("alertname", "alert"),
        "severity": SEVERITY_ALIASES.get(labels.get("severity", "").lower(), Severity.WARNING),
        "slug": labels.get("application", ""),
        "labels": labels,
        "summary": str(annotations.get("summary") or annotations.get("description") or "")[:5000],
        "starts_at": _time(item.get("startsAt"), f"{where}.startsAt"),
        "ends_at": _time(item.get("endsAt"), f"{where}.endsAt"),
    }


def samples_ingest(*, source: MetricSource, rows: Any) -> dict[str, int]:
    """Raw samples [{"monitor", "value", "at"}] for monitors of this push source."""
    if not isinstance(rows, list) or not rows:
        raise InvalidInput({"detail": "A non-empty list of samples expected."})
    limit = settings.HELPDESK_PUSH_MAX_SAMPLES
    if len(rows) > limit:
        # Each sample is evaluated in the request (a locked transaction per sample).
        raise TooLarge(f"{len(rows)} samples in one push; at most {limit} are accepted. Send them in smaller batches.")
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

