"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

REQUESTS = Counter("helpdesk_http_requests_total", "HTTP requests", ["method", "view", "status"])
LATENCY = Histogram(
    "helpdesk_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestMetricsMiddleware:
    """Counts requests and their latency per route (the route name, not the URL,
    so ids do not explode the label set)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unmatched"
        LATENCY.labels(request.method, view).observe(time.perf_counter() - start)
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


class TicketCollector(Collector):
    """Ticket and queue figures read at scrape time with two aggregate queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count, Q

        from tickets.models import ACTIVE_STATUSES, Ticket

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


class MonitoringCollector(Collector):
    """Poller and outbox figures at scrape time: four aggregate queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from escalation.models import DeliveryStatus, Notification
        from monitoring.models import Alert, MetricSource, Monitor

        monitors = GaugeMetricFamily("helpdesk_monitors", "Enabled monitors by state", labels=["state"])
        for row in Monitor.objects.filter(enabled=True).values("state").annotate(n=Count("id")).order_by():
            monitors.add_metric([row["state"]], row["n"])
        firing = GaugeMetricFamily("helpdesk_alerts_firing", "Firing alerts by severity", labels=["severity"])
        for row in Alert.objects.filter(state="firing").values("severity").annotate(n=Count("id")).order_by():
            firing.add_metric([row["severity"]], row["n"])
        failing = GaugeMetricFamily("helpdesk_sources_failing", "Enabled metric sources whose last poll failed")
        failing.add_metric([], MetricSource.objects.filter(enabled=True, consecutive_failures__gt=0).count())
        outbox = GaugeMetricFamily("helpdesk_notifications_pending", "Notifications waiting in the outbox")
        outbox.add_metric([], Notification.objects.filter(status=DeliveryStatus.PENDING).count())
        yield from (monitors, firing, failing, outbox)


_ticket_collector = TicketCollector()
_monitoring_collector = MonitoringCollector()


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def check_broker() -> str | None:
    from helpdesk.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker()}
    failing = sorted(name for name, error in checks.items() if error)
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: (error or "ok") for name, error in checks.items()},
        "failing": failing,
    }
    return JsonResponse(body, status=503 if failing else 200)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; aggregates worker processes under gunicorn when
    PROMETHEUS_MULTIPROC_DIR is set."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # type: ignore[arg-type]
    registry.register(_ticket_collector)
    registry.register(_monitoring_collector)
    # generate_latest writes the classic 0.0.4 text format (UNDERSCORES escaping); say so.
    # prometheus_client >= 0.22 made CONTENT_TYPE_LATEST "version=1.0.0", which older
    # scrapers and agents do not recognise.
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)

