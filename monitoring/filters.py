"""List filters of monitoring reads (API and pages). Junk values give a 400, never a 500."""

from __future__ import annotations

import django_filters as filters
from django.db.models import QuerySet
from django.utils import timezone

from helpdesk.filters import BooleanFilter, IntFilter
from monitoring.models import Alert, AlertState, MetricSource, Monitor, MonitorState, Severity, Silence, SourceKind


class MetricSourceFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=SourceKind.choices)
    enabled = BooleanFilter()

    class Meta:
        model = MetricSource
        fields: list[str] = []


class MonitorFilter(filters.FilterSet):
    application = IntFilter(field_name="application_id")
    source = IntFilter(field_name="source_id")
    state = filters.ChoiceFilter(choices=MonitorState.choices)
    enabled = BooleanFilter()

    class Meta:
        model = Monitor
        fields: list[str] = []


class AlertFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=AlertState.choices)
    application = IntFilter(field_name="application_id")
    severity = filters.ChoiceFilter(choices=Severity.choices)
    monitor = IntFilter(field_name="monitor_id")
    acknowledged = BooleanFilter()

    class Meta:
        model = Alert
        fields: list[str] = []


class SilenceFilter(filters.FilterSet):
    application = IntFilter(field_name="application_id")
    monitor = IntFilter(field_name="monitor_id")
    active = BooleanFilter(method="filter_active", label="In force now")

    class Meta:
        model = Silence
        fields: list[str] = []

    def filter_active(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        now = timezone.now()
        in_force = {"starts_at__lte": now, "ends_at__gt": now}
        return queryset.filter(**in_force) if value else queryset.exclude(**in_force)
