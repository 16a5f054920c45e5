from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.models import Application
from helpdesk.api.fields import SafePrimaryKeyRelatedField
from monitoring.models import Alert, MetricSource, Monitor, Sample, Silence
from monitoring.services import config

MAX_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 600
MAX_THRESHOLD = 1e15
MAX_WINDOW_MINUTES = 90 * 24 * 60


class MetricSourceSerializer(serializers.ModelSerializer):
    """A metric source (docs/API.md "Configuration objects"). ``token`` is write-only; push kinds get ``push_token``
    in the create response only (see MetricSourceCreatedSerializer)."""

    # No defaults here: omitted fields keep their stored (or model default) values,
    # so a PUT without the never-returned token does not erase it.
    base_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    token = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    poll_interval_seconds = serializers.IntegerField(min_value=5, max_value=MAX_INTERVAL_SECONDS, required=False)
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=MAX_TIMEOUT_SECONDS, required=False)
    options = serializers.JSONField(
        required=False, help_text="Kind-specific settings, e.g. the simulator's seed and scenarios."
    )

    class Meta:
        model = MetricSource
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "token",
            "poll_interval_seconds",
            "timeout_seconds",
            "enabled",
            "options",
            "version",
        ]
        read_only_fields = ["id", "version"]


class MetricSourceCreatedSerializer(MetricSourceSerializer):
    push_token = serializers.CharField(
        read_only=True, required=False, help_text="Push kinds only: the bearer token, shown this once."
    )

    class Meta(MetricSourceSerializer.Meta):
        fields = [*MetricSourceSerializer.Meta.fields, "push_token"]


class PushTokenSerializer(serializers.Serializer):
    push_token = serializers.CharField(read_only=True)


class StrictFloatField(serializers.FloatField):
    """A finite number; unlike DRF's FloatField, true/false are not 1.0/0.0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def _threshold() -> StrictFloatField:
    return StrictFloatField(required=False, allow_null=True, min_value=-MAX_THRESHOLD, max_value=MAX_THRESHOLD)


class MonitorSerializer(serializers.ModelSerializer):
    application = SafePrimaryKeyRelatedField(queryset=Application.objects.all())
    source = SafePrimaryKeyRelatedField(queryset=MetricSource.objects.all())
    warning = _threshold()
    critical = _threshold()
    outage = _threshold()
    # Ranges here; the rules across fields in monitoring.services.config. Omitted
    # fields keep their stored (or model default) values.
    window_minutes = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES, required=False)
    sensitivity = StrictFloatField(min_value=0.01, max_value=100, required=False)
    min_samples = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    breach_polls = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    recover_polls = serializers.IntegerField(min_value=1, max_value=1000, required=False)

    class Meta:
        model = Monitor
        fields = ["id", *config.MONITOR_FIELDS, "state", "last_value", "last_polled_at", "version"]
        read_only_fields = ["id", "state", "last_value", "last_polled_at", "version"]


class SampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sample
        fields = ["at", "value"]
        read_only_fields = fields


class SampleQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; samples at or after.")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; samples before.")
    ordering = serializers.ChoiceField(choices=["at", "-at"], default="at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": ["Must be after since."]})
        return attrs


class PollScheduledSerializer(serializers.Serializer):
    monitor = serializers.IntegerField()
    scheduled_at = serializers.DateTimeField()


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "monitor",
            "application",
            "fingerprint",
            "name",
            "summary",
            "severity",
            "state",
            "acknowledged",
            "started_at",
            "resolved_at",
            "last_value",
            "ticket",
        ]
        read_only_fields = fields


class AlertSnapshotSerializer(serializers.Serializer):
    series = serializers.ListField(child=serializers.ListField(), required=False)
    band = serializers.DictField(required=False)
    thresholds = serializers.DictField(required=False)
    unit = serializers.CharField(required=False)
    direction = serializers.CharField(required=False)
    taken_at = serializers.CharField(required=False)


class SilenceSerializer(serializers.ModelSerializer):
    application = SafePrimaryKeyRelatedField(queryset=Application.objects.all(), required=False, allow_null=True)
    monitor = SafePrimaryKeyRelatedField(queryset=Monitor.objects.all(), required=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)

    class Meta:
        model = Silence
        fields = [
            "id",
            "application",
            "monitor",
            "starts_at",
            "ends_at",
            "reason",
            "created_by",
            "created_at",
            "version",
        ]
        read_only_fields = ["id", "created_by", "created_at", "version"]


class PushCountsSerializer(serializers.Serializer):
    """Counts of what an ingest did (keys depend on the endpoint)."""

    opened = serializers.IntegerField(required=False)
    repeated = serializers.IntegerField(required=False)
    resolved = serializers.IntegerField(required=False)
    ignored = serializers.IntegerField(required=False)
    evaluated = serializers.IntegerField(required=False)
    stale = serializers.IntegerField(required=False)
    no_data = serializers.IntegerField(required=False)
    queued = serializers.IntegerField(required=False, help_text="alerts stored for a worker (202)")


class ApplicationHealthSerializer(serializers.Serializer):
    application = serializers.IntegerField()
    score = serializers.FloatField()
    grade = serializers.CharField()
    satisfaction = serializers.FloatField(allow_null=True)
    error_rate = serializers.FloatField(allow_null=True)
    alert_time_pct = serializers.FloatField()
    firing_alerts = serializers.ListField(child=serializers.DictField())
    open_incidents = serializers.ListField(child=serializers.DictField())
