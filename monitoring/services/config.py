"""Monitoring configuration: metric sources, monitors and silences.

Serializers check field types and ranges; the rules that involve several
fields, the source's kind or other rows live here, so the API, the admin and
code (demo data, tests) validate the same way. Every check runs on the merged
state (stored values + changes), so a PATCH cannot slip past a rule.

Who may configure monitoring is decided where the request enters (managers:
the API's permission classes, the admin, the pages), so these services take an
``actor`` only where they record one: the author of a silence (``created_by``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from helpdesk import outbound, text
from helpdesk.errors import Conflict, FieldErrors, InvalidInput
from helpdesk.tasks import enqueue
from helpdesk.versioning import versioned_update
from monitoring import simulated_metrics
from monitoring.connectors import retrace
from monitoring.models import (
    PUSH_KINDS,
    BaselineKind,
    Direction,
    MetricSource,
    Monitor,
    Silence,
    SourceKind,
)
from monitoring.services import push

# Pull kinds that fetch over HTTP and so need a URL (the simulator is built in).
URL_KINDS = frozenset({SourceKind.RETRACE, SourceKind.PROMETHEUS, SourceKind.JSON})
MAX_OPTIONS_BYTES = 16_384
MIN_INTERVAL_SECONDS = 5

SOURCE_FIELDS = ("name", "kind", "base_url", "token", "options", "poll_interval_seconds", "timeout_seconds", "enabled")
MONITOR_FIELDS = (
    "application",
    "source",
    "name",
    "query",
    "unit",
    "direction",
    "baseline_kind",
    "warning",
    "critical",
    "outage",
    "window_minutes",
    "sensitivity",
    "min_samples",
    "seasonal",
    "breach_polls",
    "recover_polls",
    "enabled",
)
# Changing one of these makes the cached dynamic baseline meaningless.
BASELINE_INPUTS = frozenset(
    {"source", "query", "baseline_kind", "window_minutes", "sensitivity", "min_samples", "seasonal"}
)
SILENCE_FIELDS = ("application", "monitor", "starts_at", "ends_at", "reason")


def _unknown_fields(changes: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidInput({field: ["Unknown field."] for field in unknown})


# --- metric sources --------------------------------------------------------------------


def base_url_problem(url: str, *, check_outbound: bool = True) -> str | None:
    """Why ``url`` cannot be polled, or None. With ``check_outbound`` the host is
    resolved and judged by the outbound policy (docs/RELIABILITY.md "Outbound requests"; checked again at every poll)."""
    if len(url) > 500 or any(c.isspace() for c in url):
        return "A URL without spaces, at most 500 characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http and https URLs."
    if not parts.hostname:
        return "The URL needs a host."
    if parts.username is not None or parts.password is not None:
        # The URL is returned by the API; credentials belong in the write-only token.
        return "Put credentials in token, not in the URL."
    if check_outbound and (problem := outbound.url_problem(url)):
        return f"Refused by the outbound policy: {problem}."
    return None


def options_problem(kind: str, options: Any) -> str | None:
    """Why ``options`` do not suit a source of ``kind``, or None."""
    if not isinstance(options, dict):
        return "A JSON object expected."
    if found := text.data_problem(options):  # the admin's JSON text may hold "\u0000"
        where, problem = found
        return f"{problem} (at options.{where})"
    if len(json.dumps(options)) > MAX_OPTIONS_BYTES:
        return f"At most {MAX_OPTIONS_BYTES} bytes of JSON."
    if kind == SourceKind.SIMULATOR:
        seed = options.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or abs(seed) >= 2**63):
            return "seed must be an integer."
        try:
            simulated_metrics.validate_scenarios(options.get("scenarios"))
        except ValueError as exc:
            return str(exc)
    return None


def source_validate(values: dict[str, Any], *, stored_url: str | None = None) -> None:
    """The rules for a whole source (stored values merged with the changes).
    The outbound policy is checked when the URL is new or changes (``stored_url``
    is the current one): a source saved before a policy change can still be edited,
    renamed or disabled; its polls are refused at connect time all the same."""
    errors = FieldErrors()
    kind = values["kind"]
    if kind not in SourceKind.values:
        errors.add("kind", "Unknown source kind.")
    if not str(values.get("name") or "").strip():
        errors.add("name", "This field may not be blank.")
    url = values.get("base_url") or ""
    if kind in URL_KINDS and not url:
        errors.add("base_url", f"A {kind} source needs a URL.")
    elif url and (problem := base_url_problem(url, check_outbound=url != stored_url)):
        errors.add("base_url", problem)
    if kind in PUSH_KINDS and values.get("token"):
        errors.add("token", "Push sources get a generated token (push_token); do not set one.")
    interval, timeout = values.get("poll_interval_seconds"), values.get("timeout_seconds")
    if interval is None or interval < MIN_INTERVAL_SECONDS:
        errors.add("poll_interval_seconds", f"At least {MIN_INTERVAL_SECONDS} seconds.")
    if timeout is None or timeout < 1:
        errors.add("timeout_seconds", "At least 1 second.")
    elif interval is not None and timeout >= interval:
        errors.add("timeout_seconds", "Must be shorter than the poll interval.")
    if problem := options_problem(kind, values.get("options", {})):
        errors.add("options", problem)
    errors.raise_any()


def _source_values(source: MetricSource) -> dict[str, Any]:
    return {field: getattr(source, field) for field in SOURCE_FIELDS}


def source_create(**fields: Any) -> tuple[MetricSource, str | None]:
    """Create a source. For push kinds also returns its bearer token, which is
    shown this once (only its hash is stored)."""
    _unknown_fields(fields, SOURCE_FIELDS)
    values = {**_source_values(MetricSource(kind=fields.get("kind", ""))), **fields}
    source_validate(values)
    with transaction.atomic():
        source = MetricSource.objects.create(**values)
        token = push.push_token_issue(source) if source.is_push else None
    return source, token


def source_update(
    *, source: MetricSource, changes: dict[str, Any], expected_version: int | None = None
) -> MetricSource:
    """Change a source's settings (one edit: the version goes up when a value
    differs; 412 when ``expected_version`` is not current). The kind is fixed:
    monitors and tokens depend on it."""
    _unknown_fields(changes, SOURCE_FIELDS)
    if "kind" in changes and changes["kind"] != source.kind:
        raise InvalidInput({"kind": ["The kind of a source cannot change; create another source."]})
    def prepare(locked: MetricSource, changes: dict[str, Any]) -> dict[str, Any]:
        changes = _without_stale_credential(locked, changes)
        source_validate({**_source_values(locked), **changes}, stored_url=locked.base_url)
        return changes

    # The poller updates health fields with UPDATE ... SET; only ours are saved.
    return versioned_update(instance=source, changes=changes, expected_version=expected_version, prepare=prepare)


def _without_stale_credential(source: MetricSource, changes: dict[str, Any]) -> dict[str, Any]:
    """A stored token is only ever sent to the origin (scheme, host, port) it was
    entered for (docs/RELIABILITY.md "Outbound requests"): a new origin without a new token clears it, so a
    manager cannot point a source at a host of theirs and receive the secret."""
    if "base_url" not in changes or "token" in changes or not source.token:
        return changes
    if outbound.origin(changes["base_url"] or "") == outbound.origin(source.base_url):
        return changes
    return {**changes, "token": ""}


def source_push_token_rotate(*, source: MetricSource) -> str:
    """A new bearer token for a push source; the old one stops working at once."""
    if not source.is_push:
        raise Conflict("Only push sources (alertmanager, push) have a push token.")
    return push.push_token_issue(source)


# --- monitors ----------------------------------------------------------------------------


def query_problem(source: MetricSource, query: str) -> str | None:
    if not query.strip():
        return "This field may not be blank."
    if source.kind == SourceKind.SIMULATOR and query.strip() not in simulated_metrics.METRICS:
        return f"The simulator knows {', '.join(sorted(simulated_metrics.METRICS))}."
    if source.kind == SourceKind.RETRACE and query.strip() not in retrace.METRICS:
        return f"A Retrace dashboard reports {', '.join(retrace.METRICS)}."
    return None


def monitor_validate(values: dict[str, Any]) -> None:
    """The rules for a whole monitor (stored values merged with the changes)."""
    errors = FieldErrors()
    source: MetricSource | None = values.get("source")
    if values.get("application") is None:
        errors.add("application", "This field is required.")
    if source is None:
        errors.add("source", "This field is required.")
    elif source.kind == SourceKind.ALERTMANAGER:
        errors.add("source", "Alertmanager sources carry alerts, not metrics; use a push or pull source.")
    elif problem := query_problem(source, values.get("query") or ""):
        errors.add("query", problem)
    if values.get("direction") not in Direction.values:
        errors.add("direction", "above or below.")
    if values.get("baseline_kind") not in BaselineKind.values:
        errors.add("baseline_kind", "static or dynamic.")
    thresholds = {name: values.get(name) for name in ("warning", "critical", "outage")}
    for name, number in thresholds.items():
        if number is not None and (isinstance(number, bool) or not math.isfinite(number)):
            errors.add(name, "A finite number expected.")
    sensitivity = values.get("sensitivity")
    if sensitivity is None or not math.isfinite(sensitivity) or sensitivity <= 0:
        errors.add("sensitivity", "A finite number above 0.")
    for name in ("window_minutes", "min_samples", "breach_polls", "recover_polls"):
        if values.get(name) is None or values[name] < 1:
            errors.add(name, "At least 1.")
    if (
        values.get("baseline_kind") == BaselineKind.STATIC
        and thresholds["warning"] is None
        and thresholds["critical"] is None
    ):
        errors.add("warning", "A static baseline needs a warning or a critical threshold.")
    if not errors.errors:
        _thresholds_ordered(values["direction"], thresholds, errors)
    errors.raise_any()


def _thresholds_ordered(direction: str, thresholds: dict[str, float | None], errors: FieldErrors) -> None:
    """above: warning <= critical <= outage; below: the reverse (missing ones skipped)."""
    given = [(name, value) for name, value in thresholds.items() if value is not None]
    for (lower_name, lower), (higher_name, higher) in zip(given, given[1:], strict=False):
        ok = lower <= higher if direction == Direction.ABOVE else lower >= higher
        if not ok:
            relation = "at least" if direction == Direction.ABOVE else "at most"
            errors.add(higher_name, f"Must be {relation} {lower_name} ({lower:g}) for direction {direction}.")


def _monitor_values(monitor: Monitor) -> dict[str, Any]:
    values = {field: getattr(monitor, field) for field in MONITOR_FIELDS if field not in ("application", "source")}
    values["application"] = monitor.application if monitor.application_id else None
    values["source"] = monitor.source if monitor.source_id else None
    return values


def monitor_create(**fields: Any) -> Monitor:
    _unknown_fields(fields, MONITOR_FIELDS)
    values = {**_monitor_values(Monitor()), **fields}
    monitor_validate(values)
    return Monitor.objects.create(**values)


def monitor_update(
    *, monitor: Monitor, changes: dict[str, Any], expected_version: int | None = None
) -> Monitor:
    """Change a monitor's settings under its row lock (the evaluator saves the
    whole row under the same lock, so neither overwrites the other). One edit:
    the version goes up when a setting differs; 412 when ``expected_version`` is
    not current. Polls write state and last value, never the version."""
    _unknown_fields(changes, MONITOR_FIELDS)
    def prepare(locked: Monitor, changes: dict[str, Any]) -> dict[str, Any]:
        monitor_validate({**_monitor_values(locked), **changes})
        return changes

    return versioned_update(
        instance=monitor,
        changes=changes,
        expected_version=expected_version,
        prepare=prepare,
        derived=_monitor_reset,
        queryset=Monitor.objects.select_related("source", "application"),
    )


def _monitor_reset(monitor: Monitor, changed: set[str]) -> set[str]:
    """What a settings change invalidates: the cached baseline, the poll schedule."""
    reset: set[str] = set()
    if changed & BASELINE_INPUTS:
        monitor.baseline, monitor.baseline_computed_at = {}, None
        reset |= {"baseline", "baseline_computed_at"}
    if changed & {"source", "enabled"}:
        # Polled at the next dispatch, then on the (new) source's grid.
        monitor.next_poll_at = None
        reset.add("next_poll_at")
    return reset


def monitor_poll_now(*, monitor: Monitor) -> datetime:
    """Enqueue a poll of this monitor for now (whole seconds, so a double click
    is one poll: the second finds its reading stale). Returns the instant."""
    source = monitor.source
    if source.is_push:
        raise Conflict("This monitor's source is push-only; there is nothing to poll.")
    if not monitor.enabled or not source.enabled:
        raise Conflict("The monitor or its source is disabled.")
    scheduled_at = timezone.now().replace(microsecond=0)
    transaction.on_commit(
        lambda: enqueue("monitoring.poll_monitor", monitor_id=monitor.pk, scheduled_at=scheduled_at.isoformat())
    )
    return scheduled_at


# --- silences ----------------------------------------------------------------------------


def silence_validate(values: dict[str, Any]) -> None:
    errors = FieldErrors()
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if starts_at is None:
        errors.add("starts_at", "This field is required.")
    if ends_at is None:
        errors.add("ends_at", "This field is required.")
    elif starts_at is not None and ends_at <= starts_at:
        errors.add("ends_at", "Must be after starts_at.")
    monitor, application = values.get("monitor"), values.get("application")
    if monitor is not None and application is not None and monitor.application_id != application.pk:
        errors.add("monitor", "This monitor belongs to another application.")
    errors.raise_any()


def silence_create(*, actor: Any, **fields: Any) -> Silence:
    _unknown_fields(fields, SILENCE_FIELDS)
    values = {"application": None, "monitor": None, "reason": "", **fields}
    silence_validate(values)
    return Silence.objects.create(created_by=actor if getattr(actor, "pk", None) else None, **values)


def silence_update(
    *, silence: Silence, changes: dict[str, Any], expected_version: int | None = None
) -> Silence:
    """Change a maintenance window under its row lock. One edit: the version goes
    up when a value differs; 412 when ``expected_version`` is not current."""
    _unknown_fields(changes, SILENCE_FIELDS)
    def prepare(locked: Silence, changes: dict[str, Any]) -> dict[str, Any]:
        silence_validate({**{field: getattr(locked, field) for field in SILENCE_FIELDS}, **changes})
        return changes

    return versioned_update(instance=silence, changes=changes, expected_version=expected_version, prepare=prepare)


def silence_expire(*, silence: Silence, now: datetime | None = None) -> Silence | None:
    """End a maintenance window now. One in force ends now through
    :func:`silence_update`, so its history stays; one that has not started yet
    is withdrawn (deleted: it never muted anything) and None is returned. An
    ended silence is a Conflict. Takes the silence's row lock."""
    now = now or timezone.now()
    with transaction.atomic():
        silence = Silence.objects.select_for_update().get(pk=silence.pk)
        if silence.ends_at <= now:
            raise Conflict("This silence has already ended.")
        if silence.starts_at >= now:
            silence.delete()
            return None
        return silence_update(silence=silence, changes={"ends_at": now})
