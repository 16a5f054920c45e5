"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time
from collections.abc import Callable

from django.conf import settings
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
from prometheus_client.core import REGISTRY
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REQUESTS = Counter("helpdesk_http_requests_total", "HTTP requests", ["method", "view", "status"])
LATENCY = Histogram(
    "helpdesk_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


# Every label value comes from a set fixed by the code, never from the client: each
# new value is a new series held in every worker's memory (and, under gunicorn, in
# its multiprocess files) for the life of the process.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
UNMATCHED = "unmatched"


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else OTHER


def view_label(request: HttpRequest) -> str:
    """The URLconf's name for the route (a finite set), never the path."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match else UNMATCHED


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


class RequestMetricsMiddleware:
    """Counts requests and their latency per route, with bounded labels: known
    methods or "other", the route name or "unmatched", a valid status or "other"."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        method, view = method_label(request.method), view_label(request)
        LATENCY.labels(method, view).observe(time.perf_counter() - start)
        REQUESTS.labels(method, view, status_label(response.status_code)).inc()
        return response


# Each app registers the collectors of its own figures in its AppConfig.ready(): the
# core names no app's models. Read at scrape time, per request (below).
SCRAPE_COLLECTORS: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add a collector to every /metrics scrape (called once per app at start-up)."""
    if collector not in SCRAPE_COLLECTORS:
        SCRAPE_COLLECTORS.append(collector)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
    """None when the database answers, else the driver's error (for the log only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def check_broker() -> str | None:
    """None when the broker accepts a connection, else its error (for the log only)."""
    from helpdesk.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """503 naming the failing parts. Anyone may ask (load balancers do), so the
    answer is only "ok" or "failing" per part: driver errors name hosts, ports,
    users and database names, and go to the log instead."""
    checks = {"database": check_database(), "broker": check_broker()}
    failing = sorted(name for name, error in checks.items() if error)
    for name in failing:
        log.warning("readiness: %s failing: %s", name, checks[name])
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: ("failing" if error else "ok") for name, error in checks.items()},
        "failing": failing,
    }
    return JsonResponse(body, status=503 if failing else 200)


# A request with any of these came through a proxy: its loopback REMOTE_ADDR is the
# proxy's, not the scraper's.
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """Who may read /metrics (it names every route, queue sizes and failing sources):

    - ``HELPDESK_METRICS_TOKEN`` set: only ``Authorization: Bearer <token>`` (401 otherwise);
    - else in production: only a direct connection from loopback (REMOTE_ADDR itself,
      not a forwarded address, and no forwarding header), 403 otherwise;
    - else (development) anyone.
    """
    token = settings.HELPDESK_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return None
        refusal = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
        refusal["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refusal
    if not settings.PRODUCTION:
        return None
    try:
        loopback = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        loopback = False
    if loopback and not any(request.META.get(header) for header in FORWARDING_HEADERS):
        return None
    return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; aggregates worker processes under gunicorn when
    PROMETHEUS_MULTIPROC_DIR is set."""
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # type: ignore[arg-type]
    for collector in SCRAPE_COLLECTORS:
        registry.register(collector)
    # generate_latest writes the classic 0.0.4 text format (UNDERSCORES escaping); say so.
    # prometheus_client >= 0.22 made CONTENT_TYPE_LATEST "version=1.0.0", which older
    # scrapers and agents do not recognise.
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
