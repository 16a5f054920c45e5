"""Monitoring in the Django admin: the same rules as the API (configuration services),
credentials never rendered, alerts read-only."""

from __future__ import annotations

import pytest

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Alert, MetricSource, Monitor, Silence
from monitoring.services import push
from monitoring.tests.factories import AlertFactory, MetricSourceFactory, MonitorFactory, SilenceFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/monitoring/"


def source_form(**extra) -> dict:
    data = {
        "name": "Shop JSON",
        "kind": "json",
        "base_url": "https://metrics.example.com/shop",
        "token": "",
        "options": "{}",
        "poll_interval_seconds": "60",
        "timeout_seconds": "10",
        "enabled": "on",
    }
    data.update(extra)
    return data


def monitor_form(**extra) -> dict:
    data = {
        "name": "Latency",
        "query": "avg_response_ms",
        "unit": "ms",
        "direction": "above",
        "baseline_kind": "static",
        "warning": "500",
        "critical": "1000",
        "outage": "",
        "window_minutes": "1440",
        "sensitivity": "3",
        "min_samples": "30",
        "breach_polls": "2",
        "recover_polls": "2",
        "enabled": "on",
    }
    data.update(extra)
    return data


def test_every_monitoring_admin_page_renders(admin_client):
    monitor = MonitorFactory()
    alert = AlertFactory(monitor=monitor)
    silence = SilenceFactory(monitor=monitor)
    for prefix, model, obj in (
        ("/admin/catalog/", "application", monitor.application),  # the catalogue's since issue 12
        (ADMIN, "metricsource", monitor.source),
        (ADMIN, "monitor", monitor),
        (ADMIN, "alert", alert),
        (ADMIN, "silence", silence),
    ):
        assert admin_client.get(f"{prefix}{model}/").status_code == 200, model
        assert admin_client.get(f"{prefix}{model}/{obj.pk}/change/").status_code == 200, model
    for model in ("metricsource", "monitor", "silence"):
        assert admin_client.get(f"{ADMIN}{model}/add/").status_code == 200, model


def test_source_token_is_never_rendered_and_kept_when_left_empty(admin_client):
    source = MetricSourceFactory(kind="json", base_url="https://example.com/m", token="s3cret-credential", options={})
    page = admin_client.get(f"{ADMIN}metricsource/{source.pk}/change/")
    assert page.status_code == 200 and "s3cret-credential" not in page.content.decode()
    assert 'type="password"' in page.content.decode()
    response = admin_client.post(
        f"{ADMIN}metricsource/{source.pk}/change/", source_form(base_url="https://example.com/m", timeout_seconds="5")
    )
    assert response.status_code == 302, response.content[:3000]
    stored = MetricSource.objects.get(pk=source.pk)
    assert stored.token == "s3cret-credential" and stored.timeout_seconds == 5
    admin_client.post(f"{ADMIN}metricsource/{source.pk}/change/", source_form(token="new-one"))
    assert MetricSource.objects.get(pk=source.pk).token == "new-one"


@pytest.mark.parametrize(
    "extra",
    [{"base_url": ""}, {"base_url": "ftp://example.com"}, {"timeout_seconds": "60"}, {"kind": "push", "token": "x"}],
)
def test_admin_source_rules_are_the_apis(admin_client, extra):
    response = admin_client.post(f"{ADMIN}metricsource/add/", source_form(**extra))
    assert response.status_code == 200  # the form again, with errors
    assert response.context["adminform"].form.errors
    assert not MetricSource.objects.exists()


def test_admin_push_source_shows_its_token_once(admin_client):
    response = admin_client.post(
        f"{ADMIN}metricsource/add/", source_form(kind="alertmanager", base_url=""), follow=True
    )
    assert response.status_code == 200
    source = MetricSource.objects.get()
    messages = [str(m) for m in response.context["messages"]]
    token = next(m.rsplit(": ", 1)[1] for m in messages if "Push token" in m)
    assert push.source_for_token(token, "alertmanager") == source


def test_admin_monitor_rules_are_the_apis(admin_client):
    app, source = ApplicationFactory(), MetricSourceFactory()
    bad = monitor_form(application=str(app.pk), source=str(source.pk), warning="900", critical="500")
    response = admin_client.post(f"{ADMIN}monitor/add/", bad)
    assert response.status_code == 200 and "critical" in response.context["adminform"].form.errors
    assert not Monitor.objects.exists()
    good = monitor_form(application=str(app.pk), source=str(source.pk))
    assert admin_client.post(f"{ADMIN}monitor/add/", good).status_code == 302
    assert Monitor.objects.get().critical == 1000


def test_alerts_are_read_only_in_admin(admin_client):
    alert = AlertFactory()
    assert admin_client.get(f"{ADMIN}alert/add/").status_code == 403
    assert admin_client.post(f"{ADMIN}alert/{alert.pk}/change/", {"state": "resolved"}).status_code == 403
    assert admin_client.get(f"{ADMIN}alert/{alert.pk}/delete/").status_code == 403
    assert Alert.objects.get(pk=alert.pk).state == "firing"


def test_admin_silence_sets_created_by_and_checks_the_window(admin_client):
    app = ApplicationFactory()
    base = {"application": str(app.pk), "monitor": "", "reason": "upgrade"}
    window = {
        "starts_at_0": "2030-01-01",
        "starts_at_1": "10:00:00",
        "ends_at_0": "2030-01-01",
        "ends_at_1": "09:00:00",
    }
    response = admin_client.post(f"{ADMIN}silence/add/", {**base, **window})
    assert response.status_code == 200 and not Silence.objects.exists()
    window["ends_at_1"] = "12:00:00"
    assert admin_client.post(f"{ADMIN}silence/add/", {**base, **window}).status_code == 302
    assert Silence.objects.get().created_by.is_superuser
