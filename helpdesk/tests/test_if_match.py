"""If-Match on every PUT/PATCH of a configuration object (the rule tickets follow:
tickets/tests/test_api_tickets.py). One table of endpoints, the same checks for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from escalation.models import EscalationRule
from escalation.tests.factories import WebhookEndpointFactory
from monitoring.models import Monitor
from monitoring.services import alerts, config, polling
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory, SilenceFactory
from tickets.tests.factories import CategoryFactory, KnownIssueFactory, if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"


@dataclass(frozen=True)
class Endpoint:
    path: str
    make: Callable[[], models.Model]
    field: str  # a plain text field a PATCH changes

    def url(self, obj: models.Model) -> str:
        return f"{V1}{self.path}/{obj.pk}/"


ENDPOINTS = {
    "escalation-rules": Endpoint(
        "escalation-rules", lambda: EscalationRule.objects.create(name="Idle", trigger="idle_for"), "name"
    ),
    "categories": Endpoint("categories", CategoryFactory, "name"),
    "known-issues": Endpoint("known-issues", KnownIssueFactory, "title"),
    "applications": Endpoint("applications", ApplicationFactory, "name"),
    "metric-sources": Endpoint("metric-sources", MetricSourceFactory, "name"),
    "monitors": Endpoint("monitors", MonitorFactory, "name"),
    "silences": Endpoint("silences", SilenceFactory, "reason"),
    "webhooks": Endpoint("webhooks", WebhookEndpointFactory, "name"),
}
each_endpoint = pytest.mark.parametrize("name", list(ENDPOINTS))


def stored(obj: models.Model) -> tuple[int, Any]:
    """(version, every column) as stored."""
    row = type(obj)._default_manager.filter(pk=obj.pk).values().get()
    return row["version"], row


@each_endpoint
def test_get_carries_the_version_as_etag(api, manager, name):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    r = api.as_(manager).get(endpoint.url(obj))
    assert r.status_code == 200
    assert r.data["version"] == 1 and r["ETag"] == '"1"'


@each_endpoint
@pytest.mark.parametrize("method", ["patch", "put"])
def test_change_without_if_match_is_428_naming_the_header_and_the_version(api, manager, name, method):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    before = stored(obj)
    body = {endpoint.field: "Changed"} if method == "patch" else api.as_(manager).get(endpoint.url(obj)).data
    r = getattr(api.as_(manager), method)(endpoint.url(obj), body, format="json")
    assert r.status_code == 428, r.data
    assert "If-Match" in r.data["detail"] and '"1"' in r.data["detail"] and r.data["current_version"] == 1
    assert stored(obj) == before


@each_endpoint
def test_stale_if_match_is_412_and_changes_nothing(api, manager, name):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    client = api.as_(manager)
    assert (
        client.patch(endpoint.url(obj), {endpoint.field: "v2"}, format="json", HTTP_IF_MATCH='"1"').status_code == 200
    )
    before = stored(obj)
    assert before[0] == 2
    r = client.patch(endpoint.url(obj), {endpoint.field: "v3"}, format="json", HTTP_IF_MATCH='"1"')
    assert r.status_code == 412, r.data
    assert r.data["current_version"] == 2
    assert stored(obj) == before


@each_endpoint
@pytest.mark.parametrize("header", ['"1"', 'W/"1"', "1"])
def test_current_version_applies_the_change_and_answers_the_next_etag(api, manager, name, header):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    r = api.as_(manager).patch(endpoint.url(obj), {endpoint.field: "Renamed"}, format="json", HTTP_IF_MATCH=header)
    assert r.status_code == 200, r.data
    assert r.data[endpoint.field] == "Renamed"
    assert r.data["version"] == 2 and r["ETag"] == '"2"'
    version, row = stored(obj)
    assert version == 2 and row[endpoint.field] == "Renamed"


@each_endpoint
def test_put_with_the_current_version_is_one_edit(api, manager, name):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    client = api.as_(manager)
    body = {k: v for k, v in client.get(endpoint.url(obj)).data.items() if v is not None}
    body[endpoint.field] = "Replaced"
    r = client.put(endpoint.url(obj), body, format="json", **if_match(obj))
    assert r.status_code == 200, r.data
    assert r.data[endpoint.field] == "Replaced" and r["ETag"] == '"2"'


@each_endpoint
def test_star_overwrites_whatever_version_is_there(api, manager, name):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    client = api.as_(manager)
    client.patch(endpoint.url(obj), {endpoint.field: "v2"}, format="json", **if_match(obj))
    r = client.patch(endpoint.url(obj), {endpoint.field: "mine"}, format="json", HTTP_IF_MATCH="*")
    assert r.status_code == 200, r.data
    assert r.data["version"] == 3 and r["ETag"] == '"3"'
    assert stored(obj)[1][endpoint.field] == "mine"


@each_endpoint
def test_if_match_can_be_made_optional(api, manager, name, settings):
    settings.HELPDESK_REQUIRE_IF_MATCH = False
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    r = api.as_(manager).patch(endpoint.url(obj), {endpoint.field: "No header"}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["version"] == 2
    # A version that is named is still checked.
    r = api.as_(manager).patch(endpoint.url(obj), {endpoint.field: "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert r.status_code == 412


@each_endpoint
def test_a_change_that_changes_nothing_keeps_the_version(api, manager, name):
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    same = getattr(obj, endpoint.field)
    r = api.as_(manager).patch(endpoint.url(obj), {endpoint.field: same}, format="json", **if_match(obj))
    assert r.status_code == 200 and r["ETag"] == '"1"'


@each_endpoint
def test_who_may_write_comes_before_which_version(api, l2, name):
    """403 for a non-manager (and 404 for a missing object), never 428 first."""
    endpoint = ENDPOINTS[name]
    obj = endpoint.make()
    assert api.as_(l2).patch(endpoint.url(obj), {endpoint.field: "x"}, format="json").status_code == 403


@each_endpoint
def test_missing_object_is_404_not_428(api, manager, name):
    r = api.as_(manager).patch(f"{V1}{ENDPOINTS[name].path}/987654321/", {"name": "x"}, format="json")
    assert r.status_code == 404


# --- what is not an edit ---------------------------------------------------------------------


def test_polls_do_not_change_a_monitors_version(api, manager):
    monitor = MonitorFactory(breach_polls=1, recover_polls=1)
    etag = api.as_(manager).get(f"{V1}monitors/{monitor.pk}/")["ETag"]
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    # A real poll of the simulator, then readings that raise and resolve an alert.
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=start) == "evaluated"
    for minute, value in enumerate([2000.0, 6000.0, 10.0], start=1):
        alerts.reading_record(monitor_id=monitor.pk, value=value, at=start + timedelta(minutes=minute))
    polled = Monitor.objects.get(pk=monitor.pk)
    assert polled.last_value == 10.0 and polled.last_polled_at is not None and polled.evaluated_at is not None
    assert polled.version == 1
    r = api.as_(manager).get(f"{V1}monitors/{monitor.pk}/")
    assert r["ETag"] == etag == '"1"'
    # ...so an edit based on the ETag read before the polls still applies.
    r = api.as_(manager).patch(f"{V1}monitors/{monitor.pk}/", {"name": "Renamed"}, format="json", HTTP_IF_MATCH=etag)
    assert r.status_code == 200, r.data
    assert r.data["version"] == 2 and r.data["last_value"] == 10.0


def test_poll_health_of_a_source_is_not_an_edit(api, manager):
    source = MetricSourceFactory()
    at = timezone.now()
    polling.source_failed(source, "timeout", at=at)
    polling.source_succeeded(source, at=at)
    assert stored(source)[0] == 1


def test_applying_a_known_issue_counts_it_without_an_edit(l1):
    from tickets import services
    from tickets.tests.factories import TicketFactory

    issue = KnownIssueFactory()
    services.known_issue_apply(ticket=TicketFactory(), actor=l1, known_issue=issue)
    issue.refresh_from_db()
    assert issue.usage_count == 1 and issue.version == 1


# --- the other ways in count as edits ------------------------------------------------------


def test_service_edits_check_and_count_the_version(manager):
    monitor = MonitorFactory()
    monitor = config.monitor_update(monitor=monitor, changes={"name": "A"}, expected_version=1)
    assert monitor.version == 2
    from helpdesk.errors import StaleVersion

    with pytest.raises(StaleVersion):
        config.monitor_update(monitor=monitor, changes={"name": "B"}, expected_version=1)
    assert Monitor.objects.get(pk=monitor.pk).name == "A"


def test_expiring_a_silence_is_an_edit(manager):
    silence = SilenceFactory(starts_at=timezone.now() - timedelta(minutes=5))
    config.silence_expire(silence=silence)
    assert stored(silence)[0] == 2


def test_admin_edits_count_in_the_version(client, admin_user):
    category = CategoryFactory(name="Network")
    client.force_login(admin_user)
    url = reverse("admin:tickets_category_change", args=[category.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="version"' not in page.content.decode()  # shown, never edited
    r = client.post(url, {"name": "Networking", "description": "", "scope_tier": 1, "is_active": "on"})
    assert r.status_code == 302, r.content[:500]
    assert stored(category)[0] == 2 and stored(category)[1]["name"] == "Networking"


def test_admin_monitor_edit_counts_in_the_version(client, admin_user):
    monitor = MonitorFactory()
    client.force_login(admin_user)
    url = reverse("admin:monitoring_monitor_change", args=[monitor.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in form.fields and v is not None}
    data.update(name="Renamed in the admin", application=monitor.application_id, source=monitor.source_id)
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    r = client.post(url, data)
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r.content[:300]
    assert stored(monitor)[0] == 2


def test_known_issue_page_edit_counts_in_the_version(client, manager):
    issue = KnownIssueFactory(title="VPN drops")
    client.force_login(manager)
    r = client.post(
        reverse("known-issue-edit", args=[issue.pk]),
        {"title": "VPN drops hourly", "symptoms": "", "resolution_steps": issue.resolution_steps, "is_active": "on"},
    )
    assert r.status_code == 303, r.content[:300]
    assert stored(issue)[0] == 2 and stored(issue)[1]["title"] == "VPN drops hourly"
