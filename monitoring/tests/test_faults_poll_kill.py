"""kill -9 of Celery workers while they poll monitors (docs/RELIABILITY.md,
"Broker and worker faults").

Real processes: a redis-server of the test's own, Celery beat dispatching every
second, prefork workers polling a json source served by this test (a small HTTP
server, slow on purpose so polls are in flight) that reports a breach for every
application. The workers' pool children and parents are SIGKILLed by pid while
alerts are being opened; new workers take over. In the end: one alert per
monitor fingerprint, one incident ticket per application, nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from escalation.models import EscalationRule
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import (
    OUTBOUND_ALLOW_LOOPBACK,
    celery_processes,
    kill_worker,
    require_postgresql,
)
from monitoring.models import Alert, AlertState, Monitor, SourceKind
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory
from monitoring.tests.helpers import JsonServer
from tickets.events import EventKind
from tickets.models import Kind, Ticket, TicketEvent

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APPLICATIONS = 40  # one monitor each
KILL_AT = (0.10, 0.50)
POLL_SECONDS = 5


@pytest.fixture
def breaching_source() -> Iterator[JsonServer]:
    server = JsonServer(body={"metrics": {"avg_response_ms": 1500.0}}, delay=0.15)
    yield server
    server.stop()


def test_workers_killed_while_polling_open_one_alert_and_one_incident_each(
    private_redis, breaching_source, tmp_path
):
    require_postgresql()
    EscalationRule.objects.all().delete()  # incidents only; no rule acts on them here
    source = MetricSourceFactory(
        kind=SourceKind.JSON,
        base_url=breaching_source.url,
        poll_interval_seconds=POLL_SECONDS,
        timeout_seconds=2,
        options={},
    )
    apps = [ApplicationFactory(name=f"App {i}", criticality="high", owner_tier=2) for i in range(APPLICATIONS)]
    monitors = [
        MonitorFactory(
            application=app,
            source=source,
            query="metrics.avg_response_ms",
            warning=500,
            critical=1000,
            outage=None,
            breach_polls=2,
            recover_polls=2,
        )
        for app in apps
    ]
    env = {
        "HELPDESK_POLL_DISPATCH_SECONDS": "1",
        "HELPDESK_ESCALATION_TICK_SECONDS": "3600",
        "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        "HELPDESK_OUTBOUND_ALLOW": OUTBOUND_ALLOW_LOOPBACK,  # the metrics server is on 127.0.0.1
    }
    firing = Alert.objects.filter(state=AlertState.FIRING, ticket__isnull=False)
    figures: dict[str, object] = {"kills": []}
    started = time.monotonic()
    with celery_processes(broker_url=private_redis.url, directory=tmp_path, **env) as celery:
        for round_, share in enumerate(KILL_AT):
            worker = celery.worker(f"poll{round_}", concurrency=2)
            wait_until(
                lambda share=share: firing.count() >= share * APPLICATIONS,
                f"{share:.0%} of the alerts open",
                60,
                check=worker.assert_alive,
            )
            at = firing.count()
            assert at < 0.9 * APPLICATIONS, f"the alerts opened too fast to kill in the middle ({at})"
            in_flight = Monitor.objects.filter(poll_lock_until__gt=timezone.now()).count()
            killed = kill_worker(worker)
            figures["kills"].append({"pids": len(killed), "alerts at kill": firing.count(), "monitors locked by a poll": in_flight})

        last = celery.worker("poll-last", concurrency=2)
        wait_until(lambda: firing.count() == APPLICATIONS, "every alert open", 90, check=last.assert_alive)
        figures["alert seconds"] = round(time.monotonic() - started, 1)
        # Two more polling rounds of the still-breaching source: repeats change nothing.
        hits = breaching_source.hits
        time.sleep(2 * POLL_SECONDS + 1)
        last.assert_alive()
        assert breaching_source.hits >= hits + APPLICATIONS, "the last worker stopped polling"
        figures["source hits"] = breaching_source.hits
        figures["total seconds"] = round(time.monotonic() - started, 1)

    alerts = list(Alert.objects.all())
    per_fingerprint = Counter(alert.fingerprint for alert in alerts)
    assert per_fingerprint == Counter({f"monitor:{monitor.pk}": 1 for monitor in monitors})
    assert {alert.state for alert in alerts} == {AlertState.FIRING}
    incidents = Ticket.objects.filter(kind=Kind.INCIDENT)
    per_application = Counter(incidents.values_list("application_id", flat=True))
    assert per_application == Counter({app.pk: 1 for app in apps})
    assert {(alert.application_id, alert.ticket.application_id) for alert in alerts} == {
        (app.pk, app.pk) for app in apps
    }
    created = Counter(
        TicketEvent.objects.filter(kind=EventKind.CREATED, ticket__kind=Kind.INCIDENT).values_list(
            "ticket_id", flat=True
        )
    )
    assert set(created.values()) == {1} and len(created) == APPLICATIONS
    assert Ticket.objects.count() == APPLICATIONS  # no stray ticket of any kind
    duplicates = sum(n - 1 for n in per_fingerprint.values()) + sum(n - 1 for n in per_application.values())
    print(f"\npoll-kill figures: {figures}, duplicates {duplicates}")
