"""The outbox's Prometheus figure, read at scrape time (registered in NotificationsConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from notifications.models import DeliveryStatus, Notification


class OutboxCollector(Collector):
    """Notifications waiting in the outbox: one count."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        outbox = GaugeMetricFamily("helpdesk_notifications_pending", "Notifications waiting in the outbox")
        outbox.add_metric([], Notification.objects.filter(status=DeliveryStatus.PENDING).count())
        yield outbox
