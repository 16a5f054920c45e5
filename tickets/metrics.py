"""The tickets' Prometheus figures, read at scrape time (registered in TicketsConfig.ready)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Q
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tickets.models import ACTIVE_STATUSES, Ticket


class TicketCollector(Collector):
    """Ticket and queue figures read at scrape time with two aggregate queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        open_tickets = GaugeMetricFamily("helpdesk_tickets_open", "Active tickets", labels=["tier", "priority"])
        unassigned = GaugeMetricFamily("helpdesk_queue_unassigned", "Unassigned active tickets", labels=["tier"])
        breached = GaugeMetricFamily("helpdesk_sla_breached_open", "Active tickets past an SLA target", labels=["tier"])
        rows = (
            Ticket.objects.filter(status__in=ACTIVE_STATUSES)
            .values("tier", "priority")
            .annotate(
                n=Count("id"),
                free=Count("id", filter=Q(assignee__isnull=True)),
                late=Count("id", filter=Q(sla_breached=True)),
            )
            .order_by()
        )
        per_tier: dict[int, list[int]] = {}
        for row in rows:
            open_tickets.add_metric([str(row["tier"]), str(row["priority"])], row["n"])
            totals = per_tier.setdefault(row["tier"], [0, 0])
            totals[0] += row["free"]
            totals[1] += row["late"]
        for tier, (free, late) in sorted(per_tier.items()):
            unassigned.add_metric([str(tier)], free)
            breached.add_metric([str(tier)], late)
        yield open_tickets
        yield unassigned
        yield breached
