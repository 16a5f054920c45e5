"""Factories for monitoring rows. Set-up only: changes under test go through services."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Alert, AlertState, MetricSource, Monitor, Severity, Silence, SourceKind


class MetricSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetricSource

    name = factory.Sequence(lambda n: f"Source {n}")
    kind = SourceKind.SIMULATOR
    base_url = ""
    options = factory.LazyFunction(lambda: {"seed": 7, "scenarios": []})
    poll_interval_seconds = 60
    timeout_seconds = 2


class MonitorFactory(factory.django.DjangoModelFactory):
    """A static monitor of response time: warning 500, critical 1000, outage 5000."""

    class Meta:
        model = Monitor

    application = factory.SubFactory(ApplicationFactory)
    source = factory.SubFactory(MetricSourceFactory)
    name = factory.Sequence(lambda n: f"Response time {n}")
    query = "avg_response_ms"
    unit = "ms"
    direction = "above"
    baseline_kind = "static"
    warning = 500.0
    critical = 1000.0
    outage = 5000.0
    breach_polls = 2
    recover_polls = 2


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    monitor = factory.SubFactory(MonitorFactory)
    source = factory.SelfAttribute("monitor.source")
    application = factory.SelfAttribute("monitor.application")
    fingerprint = factory.LazyAttribute(lambda a: f"monitor:{a.monitor.pk}" if a.monitor else f"test:{id(a)}")
    name = factory.LazyAttribute(lambda a: a.monitor.name if a.monitor else "external alert")
    severity = Severity.WARNING
    state = AlertState.FIRING
    started_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("started_at")


class SilenceFactory(factory.django.DjangoModelFactory):
    """Global by default (no application, no monitor), one hour from now."""

    class Meta:
        model = Silence

    application = None
    monitor = None
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + timedelta(hours=1))
    reason = "maintenance"
