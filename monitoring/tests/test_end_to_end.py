"""Monitoring end to end with real processes: Celery beat runs the dispatcher every
second, a Celery worker polls a json source (a small HTTP server of this test
whose value the test sets), evaluates, fires an alert with its incident ticket,
then resolves both when the value is back to normal.

The worker and beat work on the test database (PostgreSQL) and a Redis database
of their own (the test broker, ``redis_url``); both run in their own process
group, killed as a whole at teardown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import connection

from catalog.tests.factories import ApplicationFactory
from helpdesk.testing import waiting
from helpdesk.testing.processes import Proc, celery_command, process_stop
from helpdesk.testing.workers import OUTBOUND_ALLOW_LOOPBACK, WORKER_OPTIONS, celery_env
from monitoring.models import Alert, AlertState, Monitor, Sample, SourceKind
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory
from monitoring.tests.helpers import JsonServer
from tickets.models import Kind, Status, Ticket

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=f"the worker process needs the test database over the network (PostgreSQL), not {connection.vendor}",
)

WAIT_SECONDS = 25
# Kombu's keys for the default queue on a Redis broker.
QUEUE_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex", "_kombu.binding.celery")


@dataclass
class Celery:
    worker: Proc
    beat: Proc

    def check(self) -> None:
        self.worker.assert_alive()
        self.beat.assert_alive()

    def logs(self) -> str:
        return f"--- worker ---\n{self.worker.log()[-3000:]}\n--- beat ---\n{self.beat.log()[-1500:]}"


def wait_until(condition: Callable[[], bool], what: str, celery: Celery, seconds: float = WAIT_SECONDS) -> float:
    """Poll ``condition`` until it holds while worker and beat live; returns the seconds it took."""
    return waiting.wait_until(condition, what, seconds, check=celery.check, every=0.2, details=celery.logs)


def _clear_queue(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.delete(*QUEUE_KEYS)
    finally:
        client.close()


@pytest.fixture
def celery_processes(transactional_db, redis_url, tmp_path) -> Iterator[Celery]:
    """`celery worker` and `celery beat` (dispatch every second) on the test database."""
    env = celery_env(
        broker_url=redis_url,
        HELPDESK_POLL_DISPATCH_SECONDS="1",
        HELPDESK_VAR_DIR=str(tmp_path / "var"),
        HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW_LOOPBACK,  # the metrics server is on 127.0.0.1
    )
    _clear_queue(redis_url)
    commands = {
        "worker": celery_command("worker", *WORKER_OPTIONS, "-n", f"monitoring-e2e-{os.getpid()}@%h"),
        "beat": celery_command(
            "beat", "-s", str(tmp_path / "celerybeat-schedule"), "--max-interval=1", "--loglevel=INFO"
        ),
    }
    started: dict[str, Proc] = {}
    try:
        for name, command in commands.items():
            log_path = tmp_path / f"{name}.log"
            started[name] = Proc.start(f"celery {name}", command, env, log_path)
        yield Celery(started["worker"], started["beat"])
    finally:
        for process in started.values():
            process_stop(process.process)
        _clear_queue(redis_url)


@pytest.fixture
def metrics_server() -> Iterator[JsonServer]:
    server = JsonServer(body={"app": "shop", "metrics": {"avg_response_ms": 120.0}})
    yield server
    server.stop()


def test_beat_and_a_worker_fire_and_resolve_an_incident(celery_processes, metrics_server):
    celery = celery_processes
    app = ApplicationFactory(name="Shop", criticality="high", owner_tier=2)
    source = MetricSourceFactory(
        kind=SourceKind.JSON, base_url=metrics_server.url, poll_interval_seconds=5, timeout_seconds=2, options={}
    )
    monitor = MonitorFactory(
        application=app,
        source=source,
        query="metrics.avg_response_ms",
        warning=500,
        critical=1000,
        outage=None,
        breach_polls=1,
        recover_polls=1,
    )

    def alert() -> Alert | None:
        return Alert.objects.filter(monitor=monitor).order_by("-id").first()

    timings = {}
    # Beat dispatches, the worker polls: the first reading is normal.
    timings["first poll"] = wait_until(
        lambda: Sample.objects.filter(monitor=monitor).exists(), "the first poll recorded a sample", celery
    )
    assert Monitor.objects.get(pk=monitor.pk).state == "ok"
    assert alert() is None

    metrics_server.set(app="shop", metrics={"avg_response_ms": 1500.0})
    timings["fire"] = wait_until(
        lambda: (a := alert()) is not None and a.ticket_id is not None, "an alert with its incident ticket", celery
    )
    fired = alert()
    assert (fired.state, fired.severity, fired.last_value) == (AlertState.FIRING, "critical", 1500.0)
    ticket = fired.ticket
    assert (ticket.kind, ticket.application_id, ticket.tier) == (Kind.INCIDENT, app.pk, 2)
    assert (ticket.urgency, ticket.impact, ticket.priority) == ("high", "high", 1)

    metrics_server.set(app="shop", metrics={"avg_response_ms": 130.0})
    timings["resolve"] = wait_until(
        lambda: (
            Alert.objects.get(pk=fired.pk).state == AlertState.RESOLVED
            and Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
        ),
        "the alert and its incident resolved",
        celery,
    )

    # One episode: one alert, one incident; polls went on the 5 s grid.
    assert Alert.objects.count() == 1
    assert Ticket.objects.filter(kind=Kind.INCIDENT).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).resolution.startswith("Recovered automatically")
    instants = list(Sample.objects.filter(monitor=monitor).order_by("at").values_list("at", flat=True))
    gaps = {round((b - a).total_seconds()) for a, b in zip(instants[1:], instants[2:], strict=False)}
    assert gaps <= {5, 10}, f"polls off the 5 s grid: {instants}"
    assert "monitoring.poll_monitor" in celery.worker.log()
    assert "monitoring.dispatch_due_monitors" in celery.beat.log()
    print(f"timings: {timings}")
