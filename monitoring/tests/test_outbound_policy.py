"""Metric sources under the outbound policy (docs/RELIABILITY.md "Outbound requests"): refused hosts are a 400 that
changes nothing, a poll is checked again at connect time, an error page never
reaches agents, and a stored token never follows the source to another host."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitoring.connectors import SourceError
from monitoring.models import Alert, MetricSource
from monitoring.services import polling
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory
from monitoring.tests.helpers import T0
from monitoring.tests.test_connectors import Route, StubServer
from tickets.models import Comment, Ticket, TicketEvent
from tickets.tests.factories import if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
SOURCES = f"{V1}metric-sources/"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def second_stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _source_body(base_url: str, **extra) -> dict:
    return {
        "name": "Billing",
        "kind": "json",
        "base_url": base_url,
        "poll_interval_seconds": 30,
        "timeout_seconds": 2,
        **extra,
    }


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://127.0.0.1:9090/metrics", "Refused by the outbound policy: the address 127.0.0.1 is loopback"),
        ("http://2130706433/", "2130706433 resolves to 127.0.0.1, which is loopback"),
        ("http://0x7f000001/", "is loopback"),
        ("http://[::ffff:127.0.0.1]/", "is loopback"),
        ("http://169.254.169.254/latest/meta-data/iam/", "the address 169.254.169.254 is link-local"),
        ("http://[fd00:ec2::254]/", "is a cloud metadata address"),
        ("http://localhost:8080/", "localhost resolves to 127.0.0.1"),
    ],
)
def test_create_refuses_what_the_policy_refuses_and_creates_nothing(api, manager, base_url, says):
    response = api.as_(manager).post(SOURCES, _source_body(base_url, token="t"), format="json")
    assert response.status_code == 400
    [message] = response.data["base_url"]
    assert says in message and "HELPDESK_OUTBOUND_ALLOW" in message
    assert not MetricSource.objects.exists()


def test_create_accepts_a_private_address(api, manager):
    response = api.as_(manager).post(SOURCES, _source_body("http://10.0.0.1:9100/metrics"), format="json")
    assert response.status_code == 201, response.data


def test_the_databases_port_is_refused_even_with_loopback_allowed(api, manager, outbound_allow_loopback, settings):
    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        pytest.skip("the test database is not reached over TCP")
    url = f"http://{database['HOST']}:{database.get('PORT') or 5432}/"
    response = api.as_(manager).post(SOURCES, _source_body(url), format="json")
    assert response.status_code == 400
    assert "this server's own database" in response.data["base_url"][0]


def test_update_to_a_refused_host_changes_nothing(api, manager):
    source = MetricSourceFactory(kind="json", base_url="http://10.0.0.1/m", token="kept", options={})
    response = api.as_(manager).patch(
        f"{SOURCES}{source.pk}/", {"base_url": "http://169.254.169.254/"}, format="json", **if_match(source)
    )
    assert response.status_code == 400
    stored = MetricSource.objects.get(pk=source.pk)
    assert (stored.base_url, stored.token, stored.version) == ("http://10.0.0.1/m", "kept", source.version)


def test_a_source_saved_before_the_policy_can_still_be_disabled(api, manager):
    """The policy is checked when the URL changes; its polls are refused all the same."""
    source = MetricSourceFactory(kind="json", base_url="http://127.0.0.1:1/m", options={})
    response = api.as_(manager).patch(f"{SOURCES}{source.pk}/", {"enabled": False}, format="json", **if_match(source))
    assert response.status_code == 200, response.data


def test_a_poll_is_refused_at_connect_time(stub, settings):
    """Saved while loopback was allowed, polled after it no longer is: nothing is
    fetched and the error names the rule, not the address."""
    url = stub.json("/metrics", {"value": 1})
    source = MetricSourceFactory(kind="json", base_url=url, timeout_seconds=2, options={})
    monitor = MonitorFactory(source=source, query="value")
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "error"
    source.refresh_from_db()
    assert source.last_error == f"refused by the outbound policy: loopback address: {url}"
    assert stub.requests == []


def _agent_visible_text() -> str:
    """Everything about sources, alerts and tickets an agent can read."""
    parts = [repr(list(MetricSource.objects.values_list("last_error", flat=True)))]
    parts += [repr(row) for row in Alert.objects.values_list("name", "summary", "labels")]
    parts += [repr(row) for row in Ticket.objects.values_list("title", "description")]
    parts += [repr(row) for row in Comment.objects.values_list("body", flat=True)]
    parts += [repr(row) for row in TicketEvent.objects.values_list("data", flat=True)]
    return "\n".join(parts)


def test_an_error_page_never_reaches_agents(stub, outbound_allow_loopback):
    """Three failed polls raise the source alert and its incident ticket: they carry
    the status and the URL, not what the internal service answered."""
    page = b"<html>Internal admin console: db password hunter2, stack trace ...</html>"
    stub.routes["/metrics"] = Route(status=500, body=page, headers={"Content-Type": "text/html"})
    source = MetricSourceFactory(kind="json", base_url=stub.url + "/metrics", timeout_seconds=2, options={})
    monitor = MonitorFactory(source=source, query="value")
    at = T0
    for _ in range(polling.SOURCE_FAILURES_TO_ALERT):
        at += timedelta(seconds=60)
        with pytest.raises(SourceError):
            polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=at)
    source.refresh_from_db()
    assert source.last_error == f"HTTP 500 Internal Server Error from {stub.url}/metrics"
    assert Alert.objects.filter(source=source, ticket__isnull=False).exists()
    text = _agent_visible_text()
    assert "HTTP 500 Internal Server Error" in text
    for secret in ("hunter2", "Internal admin console", "stack trace"):
        assert secret not in text


# --- a stored token stays with its host (issue 11 item 4) --------------------------------------------


def _poll(source_id: int, at) -> None:
    monitor = MonitorFactory(source_id=source_id, query="value")
    polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=at)


def _authorization(server: StubServer) -> list[str | None]:
    return [headers.get("Authorization") for _, headers in server.requests]


def test_changing_the_host_clears_the_token_and_the_next_poll_sends_none(
    api, manager, stub, second_stub, outbound_allow_loopback
):
    client = api.as_(manager)
    created = client.post(SOURCES, _source_body(stub.json("/m", {"value": 1}), token="s3cret"), format="json")
    assert created.status_code == 201, created.data
    source = MetricSource.objects.get(pk=created.data["id"])
    _poll(source.pk, T0)
    assert _authorization(stub) == ["Bearer s3cret"]

    # Another port of the same address is another origin: the attacker's listener.
    moved = client.patch(
        f"{SOURCES}{source.pk}/", {"base_url": second_stub.json("/m", {"value": 2})}, format="json", **if_match(source)
    )
    assert moved.status_code == 200, moved.data
    assert MetricSource.objects.get(pk=source.pk).token == ""
    _poll(source.pk, T0 + timedelta(minutes=1))
    assert _authorization(second_stub) == [None]  # the old token went nowhere


def test_a_new_token_in_the_same_request_is_kept_and_sent(api, manager, stub, second_stub, outbound_allow_loopback):
    source = MetricSourceFactory(kind="json", base_url=stub.json("/m", {"value": 1}), token="old", options={})
    response = api.as_(manager).patch(
        f"{SOURCES}{source.pk}/",
        {"base_url": second_stub.json("/m", {"value": 2}), "token": "for-the-new-host"},
        format="json",
        **if_match(source),
    )
    assert response.status_code == 200, response.data
    _poll(source.pk, T0)
    assert _authorization(second_stub) == ["Bearer for-the-new-host"]


def test_the_same_origin_keeps_the_token(api, manager, stub, outbound_allow_loopback):
    source = MetricSourceFactory(kind="json", base_url=stub.json("/m", {"value": 1}), token="kept", options={})
    response = api.as_(manager).patch(
        f"{SOURCES}{source.pk}/", {"base_url": stub.json("/other", {"value": 3})}, format="json", **if_match(source)
    )
    assert response.status_code == 200, response.data
    assert MetricSource.objects.get(pk=source.pk).token == "kept"
    _poll(source.pk, T0)
    assert _authorization(stub) == ["Bearer kept"]


@pytest.mark.parametrize(
    ("new_url", "cleared"),
    [
        ("https://metrics.example.com/other", False),
        ("https://metrics.example.com:443/m", False),
        ("http://metrics.example.com/m", True),  # another scheme
        ("https://metrics.example.com:8443/m", True),  # another port
        ("https://evil.example.net/m", True),
        ("https://10.0.0.1/m", True),
    ],
)
def test_which_changes_count_as_another_host(api, manager, new_url, cleared):
    source = MetricSourceFactory(kind="json", base_url="https://metrics.example.com/m", token="s3cret", options={})
    response = api.as_(manager).patch(f"{SOURCES}{source.pk}/", {"base_url": new_url}, format="json", **if_match(source))
    assert response.status_code == 200, response.data
    assert MetricSource.objects.get(pk=source.pk).token == ("" if cleared else "s3cret")


def test_the_admin_clears_the_token_on_a_host_change_too(admin_client):
    from monitoring.tests.test_api_admin import ADMIN, source_form

    source = MetricSourceFactory(kind="json", base_url="https://metrics.example.com/m", token="s3cret", options={})
    response = admin_client.post(
        f"{ADMIN}metricsource/{source.pk}/change/", source_form(base_url="https://evil.example.net/collect")
    )
    assert response.status_code == 302, response.content[:3000]
    assert MetricSource.objects.get(pk=source.pk).token == ""
    refused = admin_client.post(
        f"{ADMIN}metricsource/{source.pk}/change/", source_form(base_url="http://169.254.169.254/")
    )
    assert refused.status_code == 200 and "is link-local" in refused.content.decode()
    assert MetricSource.objects.get(pk=source.pk).base_url == "https://evil.example.net/collect"

