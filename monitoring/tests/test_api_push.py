"""Push endpoints (docs/API.md "Push endpoints"): Alertmanager webhooks and raw samples, with the bearer
token a push source gets once at creation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.tests.factories import ApplicationFactory
from helpdesk.celery import app as celery_app
from helpdesk.testing.brokers import CLOSED_BROKER_URL, celery_broker
from helpdesk.tokens import api_token_issue
from monitoring import tasks
from monitoring.models import Alert, AlertmanagerPush, MetricSource, Monitor, Sample
from monitoring.services import alerts as alert_services
from monitoring.services import push as push_services
from monitoring.tests.factories import MonitorFactory
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
AM_URL = f"{V1}monitoring/alertmanager/"
SAMPLES_URL = f"{V1}monitoring/samples/"


def create_source(api, manager, kind: str, name: str = "") -> tuple[MetricSource, str]:
    response = api.as_(manager).post(f"{V1}metric-sources/", {"name": name or kind, "kind": kind}, format="json")
    assert response.status_code == 201, response.data
    return MetricSource.objects.get(pk=response.data["id"]), response.data["push_token"]


@pytest.fixture
def am(api, manager):
    return create_source(api, manager, "alertmanager", "Alertmanager")


@pytest.fixture
def pusher(api, manager):
    return create_source(api, manager, "push", "Pusher")


@pytest.fixture
def shop():
    return ApplicationFactory(slug="shop", criticality="high", owner_tier=2)


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def am_alert(status: str = "firing", fingerprint: str = "a1b2c3d4", **labels: str) -> dict:
    labels = {"alertname": "HighErrorRate", "application": "shop", "severity": "critical", **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Error rate above 5% for 5 minutes"},
        "startsAt": "2025-03-03T10:00:00Z",
        "endsAt": "2025-03-03T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts: dict, status: str = "firing") -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "helpdesk",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [AM_URL, SAMPLES_URL])
@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer wrong-token", "Bearer a b", "Basic dXNlcjpwYXNz", "Token abc", "Bearer \u00e9t\u00e9"],
)
def test_missing_or_wrong_token_is_401(am, pusher, url, header):
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    body = am_payload(am_alert()) if url == AM_URL else [{"monitor": 1, "value": 1}]
    response = client.post(url, body, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Alert.objects.exists() and not Sample.objects.exists()


def test_token_of_the_other_push_kind_is_401(am, pusher):
    (_, am_token), (_, push_token) = am, pusher
    assert bearer(push_token).post(AM_URL, am_payload(am_alert()), format="json").status_code == 401
    assert bearer(am_token).post(SAMPLES_URL, [{"monitor": 1, "value": 1}], format="json").status_code == 401


def test_user_session_or_api_token_is_not_enough(admin_user, am):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(admin_user)
    assert session.post(AM_URL, am_payload(am_alert()), format="json").status_code == 401
    key = api_token_issue(user=admin_user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(AM_URL, am_payload(am_alert()), format="json").status_code == 401
    assert not Alert.objects.exists()


def test_disabled_source_or_rotated_token_is_401(api, manager, am, shop):
    source, token = am
    MetricSource.objects.filter(pk=source.pk).update(enabled=False)
    assert bearer(token).post(AM_URL, am_payload(am_alert()), format="json").status_code == 401
    MetricSource.objects.filter(pk=source.pk).update(enabled=True)
    rotated = api.as_(manager).post(f"{V1}metric-sources/{source.pk}/rotate-token/").data["push_token"]
    assert bearer(token).post(AM_URL, am_payload(am_alert()), format="json").status_code == 401
    assert bearer(rotated).post(AM_URL, am_payload(am_alert()), format="json").status_code == 200


# --- Alertmanager ----------------------------------------------------------------------------


def test_same_firing_payload_100_times_is_one_alert_and_one_incident(am, shop):
    source, token = am
    client = bearer(token)
    first = client.post(AM_URL, am_payload(am_alert()), format="json")
    assert first.status_code == 200, first.data
    assert first.data == {"opened": 1, "repeated": 0, "resolved": 0, "ignored": 0}
    for _ in range(99):
        again = client.post(AM_URL, am_payload(am_alert()), format="json")
        assert again.status_code == 200 and again.data["repeated"] == 1 and again.data["opened"] == 0
    alert = Alert.objects.get()
    assert (alert.state, alert.severity, alert.application, alert.source) == ("firing", "critical", shop, source)
    assert alert.name == "HighErrorRate" and alert.ticket is not None
    ticket = Ticket.objects.get()
    assert ticket == alert.ticket and ticket.kind == Kind.INCIDENT
    assert ticket.requester.username == settings.HELPDESK_SYSTEM_USERNAME
    assert (ticket.application, ticket.impact, ticket.urgency, ticket.tier) == (shop, "high", "high", 2)


def test_resolved_payload_resolves_and_unknown_resolution_is_ignored(am, shop, api, l1):
    _, token = am
    client = bearer(token)
    client.post(AM_URL, am_payload(am_alert()), format="json")
    unknown = client.post(AM_URL, am_payload(am_alert("resolved", fingerprint="never-fired")), format="json")
    assert unknown.status_code == 200 and unknown.data == {"opened": 0, "repeated": 0, "resolved": 0, "ignored": 1}
    assert Alert.objects.count() == 1 and Alert.objects.get().state == "firing"

    resolved = client.post(AM_URL, am_payload(am_alert("resolved"), status="resolved"), format="json")
    assert resolved.status_code == 200 and resolved.data["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.state == "resolved" and alert.resolved_at is not None
    listed = api.as_(l1).get(f"{V1}alerts/", {"state": "resolved", "application": shop.pk})
    assert [row["id"] for row in listed.data["results"]] == [alert.pk]
    # A repeat of the resolution finds nothing firing.
    assert client.post(AM_URL, am_payload(am_alert("resolved")), format="json").data["ignored"] == 1


def test_several_alerts_in_one_payload(am, shop):
    _, token = am
    body = am_payload(
        am_alert(fingerprint="f1", severity="warning"),
        am_alert(fingerprint="f2", application="unknown-app"),
        am_alert("resolved", fingerprint="f3"),
    )
    response = bearer(token).post(AM_URL, body, format="json")
    assert response.data == {"opened": 2, "repeated": 0, "resolved": 0, "ignored": 1}
    by_fp = {a.fingerprint.rsplit(":", 1)[1]: a for a in Alert.objects.all()}
    assert by_fp["f1"].severity == "warning" and by_fp["f1"].application == shop
    assert by_fp["f2"].application is None
    assert Ticket.objects.filter(kind=Kind.INCIDENT).count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"version": "3", "alerts": []},
        {"alerts": [am_alert()]},
        {"version": "4", "alerts": "many"},
        {"version": "4", "alerts": [1, 2]},
        {"version": "4", "alerts": [{**am_alert(), "status": "burning"}]},
        {"version": "4", "alerts": [{**am_alert(), "labels": ["a"]}]},
        {"version": "4", "alerts": [{**am_alert(), "startsAt": "yesterday"}]},
        {"version": "4", "alerts": [{**am_alert(), "startsAt": "2025-03-03T10:00:00"}]},
        {"version": "4", "alerts": [{**am_alert(), "startsAt": 1741000000}]},
        # Well formed but impossible, or not representable in UTC: 400, never a poisoned row.
        {"version": "4", "alerts": [{**am_alert(), "startsAt": "2025-02-30T00:00:00Z"}]},
        {"version": "4", "alerts": [{**am_alert(), "startsAt": "2025-03-03T10:00:00+25:00"}]},
        {"version": "4", "alerts": [{**am_alert(), "startsAt": "0001-01-01T00:00:00+05:00"}]},
        [am_alert()],
        "version 4",
        None,
    ],
)
def test_bad_alertmanager_payload_is_400(am, shop, body):
    response = bearer(am[1]).post(AM_URL, body, format="json")
    assert response.status_code == 400, response.data
    assert not Alert.objects.exists() and not Ticket.objects.exists()


def test_alertmanager_body_that_is_not_json_is_400(am):
    response = bearer(am[1]).post(AM_URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Alert.objects.exists()


# --- bounded work per push ---------------------------------------------------------------------


def many_alerts(count: int, status: str = "firing") -> list[dict]:
    """Distinct alerts over three applications, as one big Alertmanager group."""
    return [am_alert(status, fingerprint=f"fp{i:05d}", application=f"app-{i % 3}") for i in range(count)]


@pytest.fixture
def three_apps():
    return [ApplicationFactory(slug=f"app-{i}") for i in range(3)]


def test_a_big_push_is_stored_and_applied_by_a_worker_exactly_once(
    client, am, three_apps, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """Before: 150 alerts opened 150 incidents inside the request (thousands of queries)."""
    source, token = am
    with django_capture_on_commit_callbacks() as handed_over, django_assert_max_num_queries(12):
        response = bearer(token).post(AM_URL, am_payload(*many_alerts(150)), format="json")
    assert response.status_code == 202, response.data
    assert response.data == {"queued": 150}
    assert not Alert.objects.exists() and not Ticket.objects.exists()
    [stored] = AlertmanagerPush.objects.all()
    assert (stored.source, stored.size, stored.applied, stored.done_at) == (source, 150, 0, None)
    assert b"helpdesk_alertmanager_pushes_waiting 1.0" in client.get("/metrics").content  # the backlog, for operators

    for callback in handed_over:  # after commit: the (eager) worker task
        callback()
    stored.refresh_from_db()
    assert (stored.applied, stored.counts) == (150, {"opened": 150, "repeated": 0, "resolved": 0, "ignored": 0})
    assert stored.done_at is not None
    assert Alert.objects.filter(state="firing", source=source).count() == 150
    assert Ticket.objects.filter(kind=Kind.INCIDENT).count() == 150
    assert {a.application.slug for a in Alert.objects.select_related("application")} == {"app-0", "app-1", "app-2"}

    # Redelivered task, the sweep, and the same push again: nothing new.
    assert tasks.apply_alertmanager_pushes(source.pk) == 0
    assert tasks.resume_alertmanager_pushes() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert bearer(token).post(AM_URL, am_payload(*many_alerts(150)), format="json").status_code == 202
    assert AlertmanagerPush.objects.latest("pk").counts["repeated"] == 150
    assert Alert.objects.count() == 150 and Ticket.objects.filter(kind=Kind.INCIDENT).count() == 150


def test_a_small_push_behind_a_waiting_one_keeps_its_order(am, three_apps, django_capture_on_commit_callbacks):
    """A resolution must not overtake the firing it resolves, or the alert fires forever."""
    _, token = am
    client = bearer(token)
    with django_capture_on_commit_callbacks() as first:
        assert client.post(AM_URL, am_payload(*many_alerts(50)), format="json").status_code == 202
    resolution = am_payload(am_alert("resolved", fingerprint="fp00007", application="app-1"), status="resolved")
    with django_capture_on_commit_callbacks() as second:
        behind = client.post(AM_URL, resolution, format="json")
    assert behind.status_code == 202 and behind.data == {"queued": 1}
    for callback in first + second:
        callback()
    assert Alert.objects.get(fingerprint__endswith=":fp00007").state == "resolved"
    assert Alert.objects.filter(state="firing").count() == 49
    assert not AlertmanagerPush.objects.filter(done_at__isnull=True).exists()
    # Nothing waits any more: a small push is applied in its request again.
    again = client.post(AM_URL, am_payload(am_alert(fingerprint="fp00008", application="app-2")), format="json")
    assert again.status_code == 200 and again.data["repeated"] == 1


def test_a_push_accepted_while_the_broker_is_down_waits_for_the_sweep(
    am, three_apps, django_capture_on_commit_callbacks
):
    _, token = am
    celery_app.conf.task_always_eager = False  # a real publish, to a broker that is not there
    try:
        with celery_broker(CLOSED_BROKER_URL), django_capture_on_commit_callbacks(execute=True):
            response = bearer(token).post(AM_URL, am_payload(*many_alerts(40)), format="json")
    finally:
        celery_app.conf.task_always_eager = True
    assert response.status_code == 202, response.data
    assert AlertmanagerPush.objects.get().applied == 0 and not Alert.objects.exists()
    assert tasks.resume_alertmanager_pushes() == 1  # beat, once the broker is back
    assert Alert.objects.count() == 40 and Ticket.objects.filter(kind=Kind.INCIDENT).count() == 40
    assert AlertmanagerPush.objects.get().done_at is not None


def test_a_worker_dying_mid_push_applies_each_alert_once(
    am, three_apps, monkeypatch, django_capture_on_commit_callbacks
):
    source, token = am
    real = alert_services.external_alert_firing
    calls = {"n": 0}

    def dies_at_the_150th(**kwargs):
        calls["n"] += 1
        if calls["n"] == 150:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(alert_services, "external_alert_firing", dies_at_the_150th)
    with django_capture_on_commit_callbacks() as handed_over:
        bearer(token).post(AM_URL, am_payload(*many_alerts(250)), format="json")
    assert len(handed_over) == 1
    with pytest.raises(RuntimeError):
        tasks.apply_alertmanager_pushes(source.pk)  # what the handed-over task runs
    stored = AlertmanagerPush.objects.get()
    whole_chunks = (150 - 1) // push_services.APPLY_CHUNK * push_services.APPLY_CHUNK
    assert whole_chunks > 0
    assert stored.applied == whole_chunks and Alert.objects.count() == whole_chunks  # the failing chunk rolled back
    monkeypatch.setattr(alert_services, "external_alert_firing", real)
    assert tasks.resume_alertmanager_pushes() == 1
    stored.refresh_from_db()
    assert stored.counts == {"opened": 250, "repeated": 0, "resolved": 0, "ignored": 0}
    assert Alert.objects.count() == 250 and Ticket.objects.filter(kind=Kind.INCIDENT).count() == 250


def test_a_push_over_the_limit_is_413_naming_alertmanagers_max_alerts(am, shop, settings):
    settings.HELPDESK_ALERTMANAGER_MAX_ALERTS = 50
    response = bearer(am[1]).post(AM_URL, am_payload(*many_alerts(51)), format="json")
    assert response.status_code == 413, response.data
    assert "max_alerts: 50" in response.data["detail"]
    assert not AlertmanagerPush.objects.exists() and not Alert.objects.exists()
    assert bearer(am[1]).post(AM_URL, am_payload(*many_alerts(50)), format="json").status_code == 202


# --- raw samples ------------------------------------------------------------------------------


@pytest.fixture
def pushed_monitor(api, manager, pusher, shop):
    source, _ = pusher
    body = {
        "application": shop.pk,
        "source": source.pk,
        "name": "Queue depth",
        "query": "queue.depth",
        "warning": 100,
        "critical": 500,
        "breach_polls": 1,
    }
    response = api.as_(manager).post(f"{V1}monitors/", body, format="json")
    assert response.status_code == 201, response.data
    return Monitor.objects.get(pk=response.data["id"])


def test_pushed_samples_are_evaluated(pusher, pushed_monitor, api, l1):
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    rows = [
        {"monitor": pushed_monitor.pk, "value": v, "at": (start + timedelta(minutes=i)).isoformat()}
        for i, v in enumerate([10, 20.5, 30])
    ]
    response = bearer(pusher[1]).post(SAMPLES_URL, rows, format="json")
    assert response.status_code == 200, response.data
    assert response.data == {"evaluated": 3, "stale": 0, "no_data": 0}
    listed = api.as_(l1).get(f"{V1}monitors/{pushed_monitor.pk}/samples/").data
    assert [row["value"] for row in listed["results"]] == [10.0, 20.5, 30.0]
    assert Monitor.objects.get(pk=pushed_monitor.pk).last_value == 30.0
    # The same rows again are stale: no second sample.
    again = bearer(pusher[1]).post(SAMPLES_URL, rows, format="json")
    assert again.data == {"evaluated": 0, "stale": 3, "no_data": 0}
    assert Sample.objects.count() == 3


def test_pushed_breach_opens_an_incident(pusher, pushed_monitor):
    at = timezone.now().replace(microsecond=0)
    response = bearer(pusher[1]).post(
        SAMPLES_URL, [{"monitor": pushed_monitor.pk, "value": 800, "at": at.isoformat()}], format="json"
    )
    assert response.status_code == 200, response.data
    alert = Alert.objects.get(monitor=pushed_monitor)
    assert alert.state == "firing" and alert.severity == "critical"
    assert alert.ticket.kind == Kind.INCIDENT


@pytest.mark.parametrize(
    "rows",
    [
        [],
        {"monitor": "M", "value": 1},
        "samples",
        [1],
        [{"monitor": "M", "value": "high"}],
        [{"monitor": "M", "value": True}],
        [{"monitor": "M"}],
        [{"monitor": "1", "value": 1}],
        [{"monitor": True, "value": 1}],
        [{"monitor": 2**70, "value": 1}],
        [{"monitor": "OTHER", "value": 1}],
        [{"monitor": "M", "value": 1, "at": "now"}],
        [{"monitor": "M", "value": 1, "at": "2025-03-03T10:00:00"}],
        [{"monitor": "M", "value": 1, "at": "2025-02-30T10:00:00Z"}],
        [{"monitor": "M", "value": 1, "at": "0001-01-01T00:00:00+05:00"}],
        [{"monitor": "M", "value": 1, "at": "2999-01-01T00:00:00Z"}],
        [{"monitor": "M", "value": 10**400}],
    ],
)
def test_bad_samples_are_400_and_store_nothing(pusher, pushed_monitor, rows):
    other = MonitorFactory()  # a simulator monitor: not this source's

    def fill(value):
        return {"M": pushed_monitor.pk, "OTHER": other.pk}.get(value, value) if isinstance(value, str) else value

    if isinstance(rows, list):
        rows = [{k: fill(v) for k, v in row.items()} if isinstance(row, dict) else row for row in rows]
    elif isinstance(rows, dict):
        rows = {k: fill(v) for k, v in rows.items()}
    response = bearer(pusher[1]).post(SAMPLES_URL, rows, format="json")
    assert response.status_code == 400, response.data
    assert not Sample.objects.exists()
    assert Monitor.objects.get(pk=pushed_monitor.pk).last_value is None


def test_a_sample_from_the_future_cannot_blind_the_monitor(pusher, pushed_monitor):
    soon = timezone.now() + timedelta(minutes=2)  # within the clock-skew allowance
    assert (
        bearer(pusher[1])
        .post(SAMPLES_URL, [{"monitor": pushed_monitor.pk, "value": 1, "at": soon.isoformat()}], format="json")
        .status_code
        == 200
    )
    far = timezone.now() + timedelta(days=1)
    response = bearer(pusher[1]).post(
        SAMPLES_URL, [{"monitor": pushed_monitor.pk, "value": 2, "at": far.isoformat()}], format="json"
    )
    assert response.status_code == 400 and "[0].at" in response.data
    assert list(Sample.objects.values_list("value", flat=True)) == [1.0]


def test_samples_over_the_limit_are_413_and_store_nothing(pusher, pushed_monitor, settings):
    """Before: up to 10,000 samples, each a locked evaluation, in one request."""
    settings.HELPDESK_PUSH_MAX_SAMPLES = 5
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    rows = [
        {"monitor": pushed_monitor.pk, "value": i, "at": (start + timedelta(minutes=i)).isoformat()} for i in range(6)
    ]
    response = bearer(pusher[1]).post(SAMPLES_URL, rows, format="json")
    assert response.status_code == 413, response.data
    assert "at most 5" in response.data["detail"]
    assert not Sample.objects.exists()
    assert bearer(pusher[1]).post(SAMPLES_URL, rows[:5], format="json").data["evaluated"] == 5
