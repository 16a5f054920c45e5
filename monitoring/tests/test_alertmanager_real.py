"""A real Alertmanager (Debian's prometheus-alertmanager) delivering webhooks to the
product served on loopback: one firing alert opens one alert and one incident, the
repeats Alertmanager sends change nothing, and the resolution resolves the alert."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.tests.factories import ApplicationFactory
from helpdesk.testing.network import free_port
from helpdesk.testing.processes import Proc
from helpdesk.testing.waiting import wait_until
from monitoring.models import Alert, AlertState, SourceKind
from monitoring.services.push import push_token_issue
from monitoring.tests.factories import MetricSourceFactory
from tickets.models import Kind, Ticket

BINARY = "/usr/bin/prometheus-alertmanager"
DEADLINE = 30.0  # seconds, for each thing waited for


def _binary() -> str:
    binary = shutil.which("prometheus-alertmanager") or BINARY
    if not os.access(binary, os.X_OK):
        message = f"needs Alertmanager at {BINARY} (apt-get install prometheus-alertmanager)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode() if response.status == 200 else None
    except OSError:
        return None


def _post_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _webhook_count(base: str, metric: str) -> float:
    """Sum of an Alertmanager counter for the webhook integration (0 when absent)."""
    text = _get(f"{base}/metrics") or ""
    pattern = rf'^{metric}\{{[^}}]*integration="webhook"[^}}]*\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def _wait(what: str, condition: Callable[[], bool], tail: Callable[[], str]) -> None:
    wait_until(condition, what, DEADLINE, every=0.2, details=lambda: f"Alertmanager log:\n{tail()}")


def _firing() -> tuple[int, int, int]:
    alerts = Alert.objects.filter(state=AlertState.FIRING).count()
    return Alert.objects.count(), alerts, Ticket.objects.filter(kind=Kind.INCIDENT).count()


@pytest.mark.django_db(transaction=True)
def test_real_alertmanager_fires_repeats_and_resolves(live_server, tmp_path, request):
    binary = _binary()
    source = MetricSourceFactory(name="Alertmanager", kind=SourceKind.ALERTMANAGER, options={})
    token = push_token_issue(source)
    app = ApplicationFactory(slug="shop", criticality="high")

    # Alertmanager 0.25 (Debian bookworm): http_config takes `authorization`
    # ({type, credentials}); the older `bearer_token` is still accepted but not used here.
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: helpdesk\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 2s\n"
        "receivers:\n"
        "  - name: helpdesk\n"
        "    webhook_configs:\n"
        f"      - url: {live_server.url}/api/v1/monitoring/alertmanager/\n"
        "        send_resolved: true\n"
        "        http_config:\n"
        "          authorization:\n"
        "            type: Bearer\n"
        f"            credentials: {token}\n"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    alertmanager = Proc.start(
        "Alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
        None,
        tmp_path / "alertmanager.log",
    )
    request.addfinalizer(alertmanager.stop)

    def tail() -> str:
        return alertmanager.log()[-3000:]

    def ready() -> bool:
        alertmanager.assert_alive()
        return _get(f"{base}/-/ready") is not None

    _wait("Alertmanager ready", ready, tail)

    labels = {"alertname": "HighErrorRate", "application": app.slug, "severity": "critical"}
    alert = {"labels": labels, "annotations": {"summary": "Error rate above 5%"}}
    _post_alerts(base, [alert])

    _wait("one firing alert and one incident", lambda: _firing() == (1, 1, 1), tail)
    opened = Alert.objects.get()
    assert (opened.application_id, opened.severity, opened.source_id) == (app.pk, "critical", source.pk)
    assert opened.fingerprint.startswith(f"am:{source.pk}:")
    assert opened.ticket is not None and opened.ticket.kind == Kind.INCIDENT
    first = _webhook_count(base, "alertmanager_notifications_total")
    assert first >= 1

    # At least one repeat delivered (repeat_interval 2s), none failed: still one of each.
    _wait(
        "a repeat delivery",
        lambda: _webhook_count(base, "alertmanager_notifications_total") >= first + 1,
        tail,
    )
    assert _webhook_count(base, "alertmanager_notifications_failed_total") == 0, tail()
    assert _firing() == (1, 1, 1)
    assert Alert.objects.get().pk == opened.pk

    ended = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    _post_alerts(base, [{**alert, "endsAt": ended}])

    _wait(
        "the alert resolved",
        lambda: Alert.objects.filter(pk=opened.pk, state=AlertState.RESOLVED).exists(),
        tail,
    )
    assert _firing() == (1, 0, 1)
    assert _webhook_count(base, "alertmanager_notifications_failed_total") == 0, tail()
