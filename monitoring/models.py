"""Monitoring data: metric sources, monitors, samples, alerts, silences.

Rules live in services; the models hold data and the invariants the database
can enforce (one firing alert per dedup key, one sample per monitor and instant).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.models import Application
from monitoring.choices import SEVERITY_RANK as SEVERITY_RANK
from monitoring.choices import Direction, Severity, SourceKind

PULL_KINDS = frozenset({SourceKind.RETRACE, SourceKind.PROMETHEUS, SourceKind.JSON, SourceKind.SIMULATOR})
PUSH_KINDS = frozenset({SourceKind.ALERTMANAGER, SourceKind.PUSH})


class MetricSource(models.Model):
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    base_url = models.CharField(max_length=500, blank=True)
    # Credential sent to a pull source (bearer token); never returned by the API.
    token = models.CharField(max_length=500, blank=True)
    # SHA-256 of the bearer token push senders present; the token itself is shown once.
    push_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Kind-specific settings, e.g. the simulator's seed and scenarios.
    options = models.JSONField(default=dict, blank=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    timeout_seconds = models.PositiveIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    # Poll health: three failures in a row raise one source alert.
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(poll_interval_seconds__gte=5), name="source_interval_min_5s"),
            models.CheckConstraint(condition=Q(timeout_seconds__gte=1), name="source_timeout_min_1s"),
            models.CheckConstraint(condition=Q(kind__in=SourceKind.values), name="source_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_push(self) -> bool:
        return self.kind in PUSH_KINDS


class BaselineKind(models.TextChoices):
    STATIC = "static", "Static thresholds"
    DYNAMIC = "dynamic", "Learned from history"


class MonitorState(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
    NO_DATA = "no_data", "No data"
    LEARNING = "learning", "Learning"


class Monitor(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="monitors")
    source = models.ForeignKey(MetricSource, on_delete=models.PROTECT, related_name="monitors")
    name = models.CharField(max_length=200)
    # Dotted path (json), PromQL (prometheus), metric name (retrace, simulator).
    query = models.CharField(max_length=2000)
    unit = models.CharField(max_length=20, blank=True)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ABOVE)
    baseline_kind = models.CharField(max_length=7, choices=BaselineKind.choices, default=BaselineKind.STATIC)
    warning = models.FloatField(null=True, blank=True)
    critical = models.FloatField(null=True, blank=True)
    outage = models.FloatField(null=True, blank=True)
    # Dynamic baseline: rolling window, k (standard deviations or MAD units), minimum history.
    window_minutes = models.PositiveIntegerField(default=24 * 60)
    sensitivity = models.FloatField(default=3.0)
    min_samples = models.PositiveIntegerField(default=30)
    seasonal = models.BooleanField(default=False)
    breach_polls = models.PositiveSmallIntegerField(default=2)
    recover_polls = models.PositiveSmallIntegerField(default=2)
    enabled = models.BooleanField(default=True)

    state = models.CharField(max_length=8, choices=MonitorState.choices, default=MonitorState.OK)
    last_value = models.FloatField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Scheduling: the dispatcher picks monitors whose next poll is due.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # The newest sample evaluated; an older poll result is stale and dropped.
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # A poll in flight holds the monitor until then: one monitor is never polled twice at once.
    poll_lock_until = models.DateTimeField(null=True, blank=True)
    # Hysteresis counters: consecutive breaching / normal evaluations.
    breach_count = models.PositiveIntegerField(default=0)
    ok_count = models.PositiveIntegerField(default=0)
    pending_severity = models.CharField(max_length=8, blank=True)
    # Cached dynamic baseline, recomputed every few minutes, never per poll.
    baseline = models.JSONField(default=dict, blank=True)
    baseline_computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["application_id", "name", "id"]
        indexes = [
            models.Index(fields=["next_poll_at"], name="monitor_due", condition=Q(enabled=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(breach_polls__gte=1, recover_polls__gte=1), name="monitor_polls_min_1"),
            models.CheckConstraint(condition=Q(sensitivity__gt=0), name="monitor_sensitivity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.application.name}: {self.name}"


class Sample(models.Model):
    """One value of a monitor at an instant; the narrow, indexed history table."""

    id = models.BigAutoField(primary_key=True)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    value = models.FloatField()
    # Taken while an alert fired: not learned from by dynamic baselines.
    in_alert = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # Retried polls and repeated pushes of the same instant store one sample.
            models.UniqueConstraint(fields=["monitor", "at"], name="sample_once_per_instant"),
        ]
        indexes = [models.Index(fields=["at"], name="sample_at")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.at:%Y-%m-%d %H:%M:%S} = {self.value}"


class AlertState(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One episode of trouble for a dedup key (monitor, source, Alertmanager
    fingerprint). At most one firing alert per key: a partial unique constraint."""

    monitor = models.ForeignKey(Monitor, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    source = models.ForeignKey(MetricSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    application = models.ForeignKey(
        Application, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    fingerprint = models.CharField(max_length=200)
    name = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.FIRING)
    acknowledged = models.BooleanField(default=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_seen_at = models.DateTimeField()
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    # What the engineer would have seen when it fired: series, baseline band, thresholds.
    snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(state=AlertState.FIRING), name="one_firing_alert_per_fingerprint"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "application"], name="alert_state_app"),
            models.Index(fields=["fingerprint", "-resolved_at"], name="alert_fingerprint_resolved"),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.name} ({self.state})"


class Silence(models.Model):
    """A maintenance window: matching monitors raise no alerts while it lasts.
    No application and no monitor means everything."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, null=True, blank=True, related_name="silences"
    )
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, null=True, blank=True, related_name="silences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="silence_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"silence {self.starts_at:%Y-%m-%d %H:%M} - {self.ends_at:%H:%M}"


class AlertmanagerPush(models.Model):
    """An accepted Alertmanager webhook left to the workers (too many alerts for its
    request, or an earlier push of its source still waiting). Stored before the push
    is answered, so nothing accepted is lost when the broker is down. Applied in
    arrival order per source, a chunk per transaction: ``applied`` moves in the same
    transaction as the chunk's alerts, so each alert is applied exactly once."""

    source = models.ForeignKey(MetricSource, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    # The validated alerts as monitoring.services.push parsed them (times in ISO 8601).
    alerts = models.JSONField()
    size = models.PositiveIntegerField()
    applied = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["source", "id"], condition=Q(done_at__isnull=True), name="am_push_waiting"),
            models.Index(fields=["done_at"], condition=Q(done_at__isnull=False), name="am_push_done"),
        ]

    def __str__(self) -> str:
        return f"push {self.pk} of source {self.source_id}: {self.applied}/{self.size}"
