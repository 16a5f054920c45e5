"""Monitoring configuration API (docs/API.md "Monitoring"): metric sources, monitors, polls, samples,
alerts and silences. Push endpoints are in test_api_push.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Alert, MetricSource, Monitor, Sample, Silence
from monitoring.services import push
from monitoring.tests.factories import AlertFactory, MetricSourceFactory, MonitorFactory, SilenceFactory
from tickets.tests.factories import if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
AGENTS = ["l1", "l2", "l3", "manager", "admin_user"]
WRITERS = ["manager", "admin_user"]
SOURCE_FIELDS = {"id", "name", "kind", "base_url", "poll_interval_seconds", "timeout_seconds", "enabled", "options", "version"}
MONITOR_FIELDS = {
    "id",
    "application",
    "source",
    "name",
    "query",
    "unit",
    "direction",
    "baseline_kind",
    "warning",
    "critical",
    "outage",
    "window_minutes",
    "sensitivity",
    "min_samples",
    "seasonal",
    "breach_polls",
    "recover_polls",
    "enabled",
    "state",
    "last_value",
    "last_polled_at",
    "version",
}
ALERT_FIELDS = {
    "id",
    "monitor",
    "application",
    "fingerprint",
    "name",
    "summary",
    "severity",
    "state",
    "acknowledged",
    "started_at",
    "resolved_at",
    "last_value",
    "ticket",
}
SILENCE_FIELDS = {"id", "application", "monitor", "starts_at", "ends_at", "reason", "created_by", "created_at", "version"}
LISTS = ["metric-sources", "monitors", "alerts", "silences"]


@pytest.fixture
def app():
    return ApplicationFactory(slug="shop")


@pytest.fixture
def sim_source():
    return MetricSourceFactory(name="Simulator", kind="simulator", options={"seed": 1})


@pytest.fixture
def monitor(app, sim_source):
    return MonitorFactory(application=app, source=sim_source, name="Response time", query="avg_response_ms")


@pytest.fixture
def push_source():
    return MetricSourceFactory(name="Pusher", kind="push", options={})


def user_for(request, role):
    return None if role is None else request.getfixturevalue(role)


def snapshot(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


def monitor_body(app_, source_, **extra) -> dict:
    body = {
        "application": app_.pk,
        "source": source_.pk,
        "name": "Latency",
        "query": "avg_response_ms",
        "unit": "ms",
        "direction": "above",
        "baseline_kind": "static",
        "warning": 500,
        "critical": 1000,
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not ...}


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LISTS)
@pytest.mark.parametrize("role,code", [(None, 401), ("customer", 403), *[(r, 200) for r in AGENTS]])
def test_lists_agents_read_customers_403_anonymous_401(api, request, endpoint, role, code):
    response = api.as_(user_for(request, role)).get(f"{V1}{endpoint}/")
    assert response.status_code == code, response.data
    if code == 200:
        assert set(response.data) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize(
    "role,code",
    [(None, 401), ("customer", 403), ("l1", 403), ("l2", 403), ("l3", 403), ("manager", 201), ("admin_user", 201)],
)
def test_only_managers_create_sources_monitors_silences(api, request, app, sim_source, role, code):
    client = api.as_(user_for(request, role))
    bodies = {
        "metric-sources": {"name": "Sim 2", "kind": "simulator", "options": {"seed": 3}},
        "monitors": monitor_body(app, sim_source),
        "silences": {"application": app.pk, "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T02:00:00Z"},
    }
    before = (MetricSource.objects.count(), Monitor.objects.count(), Silence.objects.count())
    for endpoint, body in bodies.items():
        response = client.post(f"{V1}{endpoint}/", body, format="json")
        assert response.status_code == code, (endpoint, response.data)
    after = (MetricSource.objects.count(), Monitor.objects.count(), Silence.objects.count())
    assert after == (tuple(n + 1 for n in before) if code == 201 else before)


@pytest.mark.parametrize("role,code", [("customer", 403), ("l2", 403), ("manager", 200)])
def test_only_managers_change_or_delete_monitors(api, request, monitor, role, code):
    client = api.as_(user_for(request, role))
    response = client.patch(f"{V1}monitors/{monitor.pk}/", {"name": "Renamed"}, format="json", **if_match(monitor))
    assert response.status_code == code
    assert Monitor.objects.get(pk=monitor.pk).name == ("Renamed" if code == 200 else "Response time")
    response = client.delete(f"{V1}monitors/{monitor.pk}/")
    assert response.status_code == (204 if code == 200 else 403)
    assert Monitor.objects.filter(pk=monitor.pk).exists() is (code != 200)


def test_source_in_use_cannot_be_deleted(api, manager, monitor):
    response = api.as_(manager).delete(f"{V1}metric-sources/{monitor.source_id}/")
    assert response.status_code == 409
    assert MetricSource.objects.filter(pk=monitor.source_id).exists()


# --- metric sources ------------------------------------------------------------------------


def test_source_fields_and_token_is_write_only(api, manager, l1):
    client = api.as_(manager)
    body = {
        "name": "Shop JSON",
        "kind": "json",
        "base_url": "https://metrics.example.com/shop",
        "token": "s3cret-credential",
        "poll_interval_seconds": 30,
        "timeout_seconds": 5,
    }
    created = client.post(f"{V1}metric-sources/", body, format="json")
    assert created.status_code == 201, created.data
    assert set(created.data) == SOURCE_FIELDS  # a pull kind gets no push_token
    assert created.data["options"] == {} and created.data["enabled"] is True
    source = MetricSource.objects.get(pk=created.data["id"])
    assert source.token == "s3cret-credential" and source.push_token_hash == ""

    url = f"{V1}metric-sources/{source.pk}/"
    responses = [
        client.get(url),
        client.get(f"{V1}metric-sources/"),
        api.as_(l1).get(url),
        api.as_(manager).patch(url, {"name": "Shop JSON 2"}, format="json", **if_match(source)),
        # PUT without the (never returned) token keeps it.
        api.as_(manager).put(url, {"name": "Shop JSON 3", "kind": "json", "base_url": body["base_url"]}, format="json", **if_match(source)),
    ]
    for response in responses:
        assert response.status_code == 200, response.data
        assert "s3cret-credential" not in response.content.decode()
        row = response.data["results"][0] if "results" in response.data else response.data
        assert set(row) == SOURCE_FIELDS
    assert MetricSource.objects.get(pk=source.pk).token == "s3cret-credential"

    changed = client.patch(url, {"token": "rotated-credential"}, format="json", **if_match(source))
    assert "token" not in changed.data and "rotated-credential" not in changed.content.decode()
    assert MetricSource.objects.get(pk=source.pk).token == "rotated-credential"


@pytest.mark.parametrize("kind", ["alertmanager", "push"])
def test_push_source_gets_its_token_once(api, manager, kind):
    client = api.as_(manager)
    created = client.post(f"{V1}metric-sources/", {"name": f"{kind} in", "kind": kind}, format="json")
    assert created.status_code == 201, created.data
    assert set(created.data) == SOURCE_FIELDS | {"push_token"}
    token = created.data["push_token"]
    assert len(token) >= 32
    source = MetricSource.objects.get(pk=created.data["id"])
    assert source.push_token_hash and token not in source.push_token_hash and source.token == ""
    assert push.source_for_token(token, kind) == source
    for response in (client.get(f"{V1}metric-sources/{source.pk}/"), client.get(f"{V1}metric-sources/")):
        assert "push_token" not in response.content.decode() and token not in response.content.decode()


def test_rotate_token_replaces_the_push_token(api, manager, l3):
    created = api.as_(manager).post(f"{V1}metric-sources/", {"name": "AM", "kind": "alertmanager"}, format="json")
    old, url = created.data["push_token"], f"{V1}metric-sources/{created.data['id']}/rotate-token/"
    assert api.as_(l3).post(url).status_code == 403
    rotated = api.as_(manager).post(url)
    assert rotated.status_code == 200 and set(rotated.data) == {"push_token"}
    assert push.source_for_token(old, "alertmanager") is None
    assert push.source_for_token(rotated.data["push_token"], "alertmanager").pk == created.data["id"]


def test_rotate_token_of_a_pull_source_is_409(api, manager, sim_source):
    response = api.as_(manager).post(f"{V1}metric-sources/{sim_source.pk}/rotate-token/")
    assert response.status_code == 409
    assert MetricSource.objects.get(pk=sim_source.pk).push_token_hash == ""


@pytest.mark.parametrize(
    "body,field",
    [
        ({"kind": "json"}, "base_url"),
        ({"kind": "prometheus", "base_url": ""}, "base_url"),
        ({"kind": "retrace", "base_url": "ftp://example.com/x"}, "base_url"),
        ({"kind": "json", "base_url": "javascript:alert(1)"}, "base_url"),
        ({"kind": "json", "base_url": "https://"}, "base_url"),
        ({"kind": "json", "base_url": "https://user:pw@example.com/"}, "base_url"),
        ({"kind": "json", "base_url": "https://example.com:99999/"}, "base_url"),
        ({"kind": "json", "base_url": "https://example.com/" + "a" * 600}, "base_url"),
        ({"kind": "simulator", "poll_interval_seconds": 4}, "poll_interval_seconds"),
        ({"kind": "simulator", "poll_interval_seconds": 2**40}, "poll_interval_seconds"),
        ({"kind": "simulator", "timeout_seconds": 0}, "timeout_seconds"),
        ({"kind": "simulator", "poll_interval_seconds": 10, "timeout_seconds": 10}, "timeout_seconds"),
        ({"kind": "simulator", "poll_interval_seconds": 5, "timeout_seconds": 30}, "timeout_seconds"),
        ({"kind": "simulator", "options": [1, 2]}, "options"),
        ({"kind": "simulator", "options": "seed"}, "options"),
        ({"kind": "simulator", "options": {"blob": "x" * 20_000}}, "options"),
        ({"kind": "simulator", "options": {"seed": "one"}}, "options"),
        ({"kind": "simulator", "options": {"seed": 2**70}}, "options"),
        ({"kind": "simulator", "options": {"scenarios": [{"type": "meteor"}]}}, "options"),
        ({"kind": "simulator", "options": {"scenarios": [{"type": "spike", "metric": "avg_response_ms"}]}}, "options"),
        ({"kind": "push", "token": "my-own-token"}, "token"),
        ({"kind": "nagios"}, "kind"),
        ({"kind": "simulator", "name": ""}, "name"),
        ({"kind": "simulator", "enabled": "perhaps"}, "enabled"),
    ],
)
def test_bad_source_is_400_and_creates_nothing(api, manager, body, field):
    response = api.as_(manager).post(f"{V1}metric-sources/", {"name": "Bad", **body}, format="json")
    assert response.status_code == 400, response.data
    assert field in response.data
    assert not MetricSource.objects.exists()


@pytest.mark.parametrize(
    "change,field",
    [
        ({"timeout_seconds": 60}, "timeout_seconds"),
        ({"poll_interval_seconds": 2}, "poll_interval_seconds"),
        ({"poll_interval_seconds": 8, "timeout_seconds": 9}, "timeout_seconds"),
        ({"kind": "json"}, "kind"),
        ({"kind": "push"}, "kind"),
        ({"options": {"scenarios": "none"}}, "options"),
    ],
)
def test_bad_source_change_is_400_and_changes_nothing(api, manager, sim_source, change, field):
    before = snapshot(MetricSource)
    response = api.as_(manager).patch(f"{V1}metric-sources/{sim_source.pk}/", change, format="json", **if_match(sim_source))
    assert response.status_code == 400 and field in response.data, response.data
    assert snapshot(MetricSource) == before


def test_source_change_is_saved(api, manager, sim_source):
    change = {"poll_interval_seconds": 15, "timeout_seconds": 3, "enabled": False, "options": {"seed": 9}}
    response = api.as_(manager).patch(f"{V1}metric-sources/{sim_source.pk}/", change, format="json", **if_match(sim_source))
    assert response.status_code == 200, response.data
    assert {k: response.data[k] for k in change} == change
    stored = MetricSource.objects.get(pk=sim_source.pk)
    assert (stored.poll_interval_seconds, stored.timeout_seconds, stored.enabled, stored.options) == (
        15,
        3,
        False,
        {"seed": 9},
    )


def test_source_filters(api, l1, sim_source, push_source):
    client = api.as_(l1)
    assert [r["id"] for r in client.get(f"{V1}metric-sources/", {"kind": "push"}).data["results"]] == [push_source.pk]
    assert client.get(f"{V1}metric-sources/", {"kind": "snmp"}).status_code == 400


# --- monitors ---------------------------------------------------------------------------


def test_monitor_create_and_fields(api, manager, l1, app, sim_source):
    response = api.as_(manager).post(f"{V1}monitors/", monitor_body(app, sim_source, outage=5000), format="json")
    assert response.status_code == 201, response.data
    assert set(response.data) == MONITOR_FIELDS
    assert response.data["state"] == "ok" and response.data["last_value"] is None
    assert (response.data["warning"], response.data["critical"], response.data["outage"]) == (500, 1000, 5000)
    assert response.data["breach_polls"] == 2 and response.data["sensitivity"] == 3.0
    read = api.as_(l1).get(f"{V1}monitors/{response.data['id']}/")
    assert read.status_code == 200 and read.data == response.data


def test_monitor_below_and_dynamic_are_accepted(api, manager, app, sim_source):
    client = api.as_(manager)
    below = monitor_body(
        app, sim_source, query="satisfaction", direction="below", warning=0.85, critical=0.7, outage=0.3
    )
    assert client.post(f"{V1}monitors/", below, format="json").status_code == 201
    dynamic = monitor_body(
        app, sim_source, baseline_kind="dynamic", warning=None, critical=None, sensitivity=2.5, seasonal=True
    )
    response = client.post(f"{V1}monitors/", dynamic, format="json")
    assert response.status_code == 201, response.data
    assert response.data["seasonal"] is True and response.data["warning"] is None


def test_monitor_on_a_push_source_takes_any_query(api, manager, app, push_source):
    response = api.as_(manager).post(
        f"{V1}monitors/", monitor_body(app, push_source, query="queue.depth"), format="json"
    )
    assert response.status_code == 201, response.data


@pytest.mark.parametrize(
    "extra,field",
    [
        ({"warning": None, "critical": None}, "warning"),
        ({"warning": ..., "critical": ...}, "warning"),
        ({"warning": 900, "critical": 500}, "critical"),
        ({"warning": 500, "critical": 1000, "outage": 800}, "outage"),
        ({"warning": None, "critical": 1000, "outage": 800}, "outage"),
        ({"direction": "below", "warning": 500, "critical": 1000}, "critical"),
        ({"direction": "below", "warning": 0.9, "critical": 0.5, "outage": 0.7}, "outage"),
        ({"warning": "NaN"}, "warning"),
        ({"critical": "Infinity"}, "critical"),
        ({"outage": "-inf"}, "outage"),
        ({"warning": 1e300}, "warning"),
        ({"warning": True}, "warning"),
        ({"sensitivity": 0}, "sensitivity"),
        ({"sensitivity": -1}, "sensitivity"),
        ({"sensitivity": "nan"}, "sensitivity"),
        ({"window_minutes": 0}, "window_minutes"),
        ({"window_minutes": 2**40}, "window_minutes"),
        ({"min_samples": 0}, "min_samples"),
        ({"breach_polls": 0}, "breach_polls"),
        ({"recover_polls": 0}, "recover_polls"),
        ({"recover_polls": 70_000}, "recover_polls"),
        ({"direction": "sideways"}, "direction"),
        ({"baseline_kind": "magic"}, "baseline_kind"),
        ({"query": ""}, "query"),
        ({"query": "bogomips"}, "query"),
        ({"application": 2**70}, "application"),
        ({"application": True}, "application"),
        ({"application": "1; drop table"}, "application"),
        ({"source": 999_999}, "source"),
        ({"source": None}, "source"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_bad_monitor_is_400_and_creates_nothing(api, manager, app, sim_source, extra, field):
    response = api.as_(manager).post(f"{V1}monitors/", monitor_body(app, sim_source, **extra), format="json")
    assert response.status_code == 400, response.data
    assert field in response.data, response.data
    assert not Monitor.objects.exists()


def test_monitor_on_an_alertmanager_source_is_400(api, manager, app):
    source = MetricSourceFactory(kind="alertmanager", options={})
    response = api.as_(manager).post(f"{V1}monitors/", monitor_body(app, source), format="json")
    assert response.status_code == 400 and "source" in response.data
    assert not Monitor.objects.exists()


@pytest.mark.parametrize(
    "change,field",
    [
        ({"direction": "below"}, "critical"),  # 500/1000/5000 are not ordered for below
        ({"warning": None, "critical": None}, "warning"),
        ({"critical": 100}, "critical"),
        ({"sensitivity": 0}, "sensitivity"),
        ({"query": "nope"}, "query"),
    ],
)
def test_bad_monitor_change_is_400_and_changes_nothing(api, manager, monitor, change, field):
    before = snapshot(Monitor)
    response = api.as_(manager).patch(f"{V1}monitors/{monitor.pk}/", change, format="json", **if_match(monitor))
    assert response.status_code == 400 and field in response.data, response.data
    assert snapshot(Monitor) == before


def test_monitor_change_clears_the_cached_baseline(api, manager, monitor):
    Monitor.objects.filter(pk=monitor.pk).update(
        baseline={"lower": 1, "upper": 2}, baseline_computed_at=timezone.now(), state="warning", last_value=600
    )
    response = api.as_(manager).patch(f"{V1}monitors/{monitor.pk}/", {"baseline_kind": "dynamic"}, format="json", **if_match(monitor))
    assert response.status_code == 200, response.data
    stored = Monitor.objects.get(pk=monitor.pk)
    assert stored.baseline_kind == "dynamic" and stored.baseline == {} and stored.baseline_computed_at is None
    # The read-only fields are the poller's: a client cannot set them.
    response = api.as_(manager).patch(f"{V1}monitors/{monitor.pk}/", {"state": "ok", "last_value": 1}, format="json", **if_match(monitor))
    assert response.status_code == 200
    assert Monitor.objects.values_list("state", "last_value").get(pk=monitor.pk) == ("warning", 600)


def test_monitor_filters(api, l1, monitor, push_source):
    other = MonitorFactory(source=push_source, query="depth")
    client = api.as_(l1)
    assert [r["id"] for r in client.get(f"{V1}monitors/", {"application": monitor.application_id}).data["results"]] == [
        monitor.pk
    ]
    assert [r["id"] for r in client.get(f"{V1}monitors/", {"source": push_source.pk}).data["results"]] == [other.pk]
    for bad in ({"application": "shop"}, {"state": "sad"}, {"source": 2**70}):
        assert client.get(f"{V1}monitors/", bad).status_code == 400


# --- poll now --------------------------------------------------------------------------


def test_poll_runs_the_monitor_now(api, l1, monitor, django_capture_on_commit_callbacks):
    before = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.as_(l1).post(f"{V1}monitors/{monitor.pk}/poll/")
    assert response.status_code == 202, response.data
    assert set(response.data) == {"monitor", "scheduled_at"} and response.data["monitor"] == monitor.pk
    scheduled = parse_datetime(response.data["scheduled_at"])
    assert before <= scheduled <= timezone.now()
    assert len(callbacks) == 1
    # Celery is eager in tests: the simulator has been polled for that instant.
    sample = Sample.objects.get(monitor=monitor)
    assert sample.at == scheduled and 100 < sample.value < 1000
    stored = Monitor.objects.get(pk=monitor.pk)
    assert stored.last_value == sample.value and stored.last_polled_at is not None and stored.state == "ok"


@pytest.mark.parametrize("role,code", [(None, 401), ("customer", 403), ("l2", 202), ("manager", 202)])
def test_poll_is_for_agents(api, request, monitor, role, code, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.as_(user_for(request, role)).post(f"{V1}monitors/{monitor.pk}/poll/")
    assert response.status_code == code
    assert len(callbacks) == (1 if code == 202 else 0)


def test_poll_of_a_push_or_disabled_monitor_is_409(api, l1, monitor, push_source, django_capture_on_commit_callbacks):
    pushed = MonitorFactory(source=push_source, query="depth")
    Monitor.objects.filter(pk=monitor.pk).update(enabled=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert api.as_(l1).post(f"{V1}monitors/{pushed.pk}/poll/").status_code == 409
        assert api.as_(l1).post(f"{V1}monitors/{monitor.pk}/poll/").status_code == 409
        assert api.as_(l1).post(f"{V1}monitors/999999/poll/").status_code == 404
    assert callbacks == [] and not Sample.objects.exists()


# --- samples -----------------------------------------------------------------------------


@pytest.fixture
def series(monitor):
    start = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    Sample.objects.bulk_create(
        [Sample(monitor=monitor, at=start + timedelta(minutes=i), value=float(i)) for i in range(60)]
    )
    Sample.objects.create(monitor=MonitorFactory(), at=start, value=-1.0)  # another monitor's
    return start


def test_samples_listing(api, l1, monitor, series):
    url = f"{V1}monitors/{monitor.pk}/samples/"
    response = api.as_(l1).get(url)
    assert response.status_code == 200
    assert response.data["count"] == 60
    rows = response.data["results"]
    assert all(set(row) == {"at", "value"} for row in rows)
    assert [row["value"] for row in rows] == [float(i) for i in range(60)]
    assert parse_datetime(rows[0]["at"]) == series

    since, until = series + timedelta(minutes=10), series + timedelta(minutes=20)
    window = api.as_(l1).get(url, {"since": since.isoformat(), "until": until.isoformat()}).data
    assert [row["value"] for row in window["results"]] == [float(i) for i in range(10, 20)]

    newest = api.as_(l1).get(url, {"ordering": "-at", "page_size": 5}).data
    assert newest["count"] == 60 and [row["value"] for row in newest["results"]] == [59.0, 58.0, 57.0, 56.0, 55.0]
    assert newest["next"] is not None


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2025-13-01T00:00:00Z"},
        {"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        {"since": "0001-01-01T00:00:00+05:00"},
        {"ordering": "value"},
        {"page": "nine"},
    ],
)
def test_bad_sample_query_is_400_or_404(api, l1, monitor, series, params):
    response = api.as_(l1).get(f"{V1}monitors/{monitor.pk}/samples/", params)
    assert response.status_code in (400, 404), response.data
    if "page" not in params:
        assert response.status_code == 400


def test_samples_need_an_agent_and_a_monitor(api, customer, l1, monitor):
    assert api.as_(customer).get(f"{V1}monitors/{monitor.pk}/samples/").status_code == 403
    assert api.as_(l1).get(f"{V1}monitors/{2**70}/samples/").status_code == 404


# --- alerts -----------------------------------------------------------------------------


@pytest.fixture
def some_alerts(monitor):
    other_app = ApplicationFactory()
    return {
        "firing": AlertFactory(monitor=monitor, severity="critical"),
        "resolved": AlertFactory(
            monitor=monitor, fingerprint="old", state="resolved", resolved_at=timezone.now(), severity="warning"
        ),
        "other": AlertFactory(monitor=MonitorFactory(application=other_app), severity="outage"),
    }


def test_alert_fields_and_detail(api, l1, some_alerts):
    listed = api.as_(l1).get(f"{V1}alerts/")
    assert listed.status_code == 200 and listed.data["count"] == 3
    assert all(set(row) == ALERT_FIELDS for row in listed.data["results"])
    alert = some_alerts["firing"]
    detail = api.as_(l1).get(f"{V1}alerts/{alert.pk}/")
    assert detail.status_code == 200
    assert detail.data["monitor"] == alert.monitor_id and detail.data["application"] == alert.application_id
    assert (detail.data["state"], detail.data["severity"], detail.data["acknowledged"]) == ("firing", "critical", False)


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"state": "firing"}, {"firing", "other"}),
        ({"state": "resolved"}, {"resolved"}),
        ({"severity": "outage"}, {"other"}),
        ({"severity": "warning", "state": "firing"}, set()),
        ({"application": "APP"}, {"firing", "resolved"}),
        ({"application": "APP", "state": "firing"}, {"firing"}),
        ({"application": 999_999}, set()),
        ({"acknowledged": "false"}, {"firing", "resolved", "other"}),
    ],
)
def test_alert_filters(api, l1, some_alerts, params, expected):
    names = {alert.pk: name for name, alert in some_alerts.items()}
    params = {k: (some_alerts["firing"].application_id if v == "APP" else v) for k, v in params.items()}
    response = api.as_(l1).get(f"{V1}alerts/", params)
    assert response.status_code == 200, response.data
    assert {names[row["id"]] for row in response.data["results"]} == expected


@pytest.mark.parametrize(
    "params",
    [{"state": "open"}, {"severity": "meh"}, {"application": "shop"}, {"application": 2**70}, {"application": -1}],
)
def test_bad_alert_filters_are_400(api, l1, some_alerts, params):
    response = api.as_(l1).get(f"{V1}alerts/", params)
    assert response.status_code == 400
    assert set(response.data) <= {"state", "severity", "application"}


def test_acknowledge_is_idempotent(api, l1, l2, some_alerts):
    alert = some_alerts["firing"]
    first = api.as_(l1).post(f"{V1}alerts/{alert.pk}/acknowledge/")
    assert first.status_code == 200 and set(first.data) == ALERT_FIELDS
    assert first.data["acknowledged"] is True and first.data["state"] == "firing"
    stored = Alert.objects.get(pk=alert.pk)
    assert stored.acknowledged_by == l1 and stored.acknowledged_at is not None
    again = api.as_(l2).post(f"{V1}alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 200 and again.data["acknowledged"] is True
    assert Alert.objects.values_list("acknowledged_by", "acknowledged_at").get(pk=alert.pk) == (
        l1.pk,
        stored.acknowledged_at,
    )
    assert api.as_(l1).get(f"{V1}alerts/", {"acknowledged": "true"}).data["count"] == 1


def test_acknowledge_needs_an_agent(api, customer, some_alerts):
    alert = some_alerts["firing"]
    assert api.as_(customer).post(f"{V1}alerts/{alert.pk}/acknowledge/").status_code == 403
    assert api.as_(None).post(f"{V1}alerts/{alert.pk}/acknowledge/").status_code == 401
    assert api.as_(customer).get(f"{V1}alerts/{alert.pk}/").status_code == 403
    assert not Alert.objects.get(pk=alert.pk).acknowledged


@pytest.mark.parametrize("role", ["l1", "manager", "admin_user"])
def test_alerts_cannot_be_created_changed_or_deleted(api, request, role, some_alerts):
    client, alert = api.as_(user_for(request, role)), some_alerts["firing"]
    before = snapshot(Alert)
    assert client.post(f"{V1}alerts/", {"fingerprint": "x", "severity": "warning"}, format="json").status_code == 405
    assert client.patch(f"{V1}alerts/{alert.pk}/", {"state": "resolved"}, format="json").status_code == 405
    assert client.put(f"{V1}alerts/{alert.pk}/", {"state": "resolved"}, format="json").status_code == 405
    assert client.delete(f"{V1}alerts/{alert.pk}/").status_code == 405
    assert snapshot(Alert) == before


# --- silences ---------------------------------------------------------------------------


def test_silence_create_sets_created_by(api, manager, l1, monitor):
    body = {
        "application": monitor.application_id,
        "monitor": monitor.pk,
        "starts_at": "2030-01-01T10:00:00Z",
        "ends_at": "2030-01-01T12:00:00+01:00",
        "reason": "Database upgrade",
        "created_by": l1.pk,  # ignored: read-only
    }
    response = api.as_(manager).post(f"{V1}silences/", body, format="json")
    assert response.status_code == 201, response.data
    assert set(response.data) == SILENCE_FIELDS and response.data["created_by"] == manager.pk
    silence = Silence.objects.get()
    assert silence.created_by == manager and silence.ends_at - silence.starts_at == timedelta(hours=1)
    assert api.as_(l1).get(f"{V1}silences/{silence.pk}/").data == response.data
    assert api.as_(l1).patch(f"{V1}silences/{silence.pk}/", {"reason": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(
    "body,field",
    [
        ({"starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T10:00:00Z"}, "ends_at"),
        ({"starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T09:00:00Z"}, "ends_at"),
        ({"starts_at": "2030-01-01T10:00:00Z"}, "ends_at"),
        ({"starts_at": "soon", "ends_at": "2030-01-01T09:00:00Z"}, "starts_at"),
        ({"starts_at": "0001-01-01T00:00:00+05:00", "ends_at": "2030-01-01T09:00:00Z"}, "starts_at"),
        ({"starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-02T10:00:00Z", "monitor": "OTHER"}, "monitor"),
        ({"starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-02T10:00:00Z", "reason": "x" * 501}, "reason"),
    ],
)
def test_bad_silence_is_400_and_creates_nothing(api, manager, monitor, body, field):
    other = MonitorFactory()
    body = {"application": monitor.application_id, **body}
    if body.get("monitor") == "OTHER":
        body["monitor"] = other.pk
    response = api.as_(manager).post(f"{V1}silences/", body, format="json")
    assert response.status_code == 400 and field in response.data, response.data
    assert not Silence.objects.exists()


def test_silence_change_keeps_the_window_valid(api, manager, monitor):
    silence = SilenceFactory(monitor=monitor)
    before = snapshot(Silence)
    ends = (silence.starts_at - timedelta(minutes=1)).isoformat()
    response = api.as_(manager).patch(f"{V1}silences/{silence.pk}/", {"ends_at": ends}, format="json", **if_match(silence))
    assert response.status_code == 400 and "ends_at" in response.data
    assert snapshot(Silence) == before
    later = (silence.ends_at + timedelta(hours=1)).isoformat()
    assert api.as_(manager).patch(f"{V1}silences/{silence.pk}/", {"ends_at": later}, format="json", **if_match(silence)).status_code == 200
    assert api.as_(manager).delete(f"{V1}silences/{silence.pk}/").status_code == 204


def test_silence_active_filter(api, l1):
    now = timezone.now()
    current = SilenceFactory(starts_at=now - timedelta(minutes=5))
    SilenceFactory(starts_at=now + timedelta(days=1))
    response = api.as_(l1).get(f"{V1}silences/", {"active": "true"})
    assert [row["id"] for row in response.data["results"]] == [current.pk]
    assert api.as_(l1).get(f"{V1}silences/", {"active": "sometimes"}).status_code == 400


# --- query counts ------------------------------------------------------------------------

# COUNT + page SELECT; authentication is forced by the test client.
LIST_QUERIES = 2


def _rows(endpoint: str, count: int) -> None:
    if endpoint == "metric-sources":
        MetricSourceFactory.create_batch(count)
    elif endpoint == "monitors":
        source, app = MetricSourceFactory(), ApplicationFactory()
        MonitorFactory.create_batch(count, source=source, application=app)
    elif endpoint == "alerts":
        monitor = MonitorFactory()
        for i in range(count):
            AlertFactory(monitor=monitor, fingerprint=f"fp-{count}-{i}", ticket=None)
    elif endpoint == "silences":
        SilenceFactory.create_batch(count, monitor=MonitorFactory())


@pytest.mark.parametrize("endpoint", LISTS)
def test_list_query_count_does_not_grow(api, l1, endpoint, django_assert_max_num_queries):
    client = api.as_(l1)
    _rows(endpoint, 5)
    with django_assert_max_num_queries(LIST_QUERIES):
        assert client.get(f"{V1}{endpoint}/").data["count"] == 5
    _rows(endpoint, 45)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(f"{V1}{endpoint}/", {"page_size": 50})
    assert response.data["count"] == 50 and len(response.data["results"]) == 50


def test_samples_query_count_does_not_grow(api, l1, monitor, series, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # monitor + COUNT + page
        response = api.as_(l1).get(f"{V1}monitors/{monitor.pk}/samples/", {"page_size": 60})
    assert len(response.data["results"]) == 60


def test_monitoring_endpoints_are_in_the_schema(api):
    schema = api.as_(None).get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/metric-sources/",
        "/api/v1/metric-sources/{id}/rotate-token/",
        "/api/v1/monitors/{id}/poll/",
        "/api/v1/monitors/{id}/samples/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/silences/",
        "/api/v1/monitoring/alertmanager/",
        "/api/v1/monitoring/samples/",
    ):
        assert path in schema["paths"], path
    source = schema["components"]["schemas"]["MetricSource"]["properties"]
    assert "token" not in source
