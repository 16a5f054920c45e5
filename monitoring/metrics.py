"""Monitoring's Prometheus figures, read at scrape time (registered in MonitoringConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitoring.models import Alert, AlertmanagerPush, AlertState, MetricSource, Monitor


class MonitoringCollector(Collector):
    """Poller and push figures at scrape time: four aggregate queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        monitors = GaugeMetricFamily("helpdesk_monitors", "Enabled monitors by state", labels=["state"])
        for row in Monitor.objects.filter(enabled=True).values("state").annotate(n=Count("id")).order_by():
            monitors.add_metric([row["state"]], row["n"])
        firing = GaugeMetricFamily("helpdesk_alerts_firing", "Firing alerts by severity", labels=["severity"])
        for row in Alert.objects.filter(state=AlertState.FIRING).values("severity").annotate(n=Count("id")).order_by():
            firing.add_metric([row["severity"]], row["n"])
        failing = GaugeMetricFamily("helpdesk_sources_failing", "Enabled metric sources whose last poll failed")
        failing.add_metric([], MetricSource.objects.filter(enabled=True, consecutive_failures__gt=0).count())
        pushes = GaugeMetricFamily(
            "helpdesk_alertmanager_pushes_waiting", "Stored Alertmanager pushes not yet applied by a worker"
        )
        pushes.add_metric([], AlertmanagerPush.objects.filter(done_at__isnull=True).count())
        yield from (monitors, firing, failing, pushes)
