"""Monitoring pages: who sees what, what they show, what they cost, and their writes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from helpdesk.tests.pages import assert_csp_clean, assert_labelled_controls
from monitoring.models import Alert, AlertState, Monitor, MonitorState, Sample, Severity, Silence
from monitoring.tests.factories import AlertFactory, MonitorFactory, SilenceFactory
from tickets.models import Kind
from tickets.tests.factories import TicketFactory

APPLICATIONS = "/monitoring/"
ALERTS = "/monitoring/alerts/"
SILENCES = "/monitoring/silences/"
HUGE = "99999999999999999999999"


def application_url(application) -> str:
    return f"/monitoring/applications/{application.pk}/"


def acknowledge_url(alert) -> str:
    return f"/monitoring/alerts/{alert.pk}/acknowledge/"


def expire_url(silence) -> str:
    return f"/monitoring/silences/{silence.pk}/expire/"


@pytest.fixture
def login(client):
    def as_(user):
        client.force_login(user)
        return client

    return as_


@pytest.fixture
def application(db):
    return ApplicationFactory(name="Webshop")


def page_urls(application) -> list[str]:
    return [APPLICATIONS, application_url(application), ALERTS, SILENCES]


def samples(monitor: Monitor, values: list[float], *, step: timedelta = timedelta(minutes=5)) -> None:
    now = timezone.now()
    Sample.objects.bulk_create(
        Sample(monitor=monitor, at=now - step * (len(values) - i), value=value) for i, value in enumerate(values)
    )


# --- who sees what ------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client, application):
    for url in page_urls(application):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/login/?next={url}")


def test_customers_get_not_found(login, customer, application):
    client = login(customer)
    for url in page_urls(application):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("role", [Role.L1, Role.L2, Role.L3, Role.MANAGER])
def test_agents_see_every_monitoring_page(login, application, role):
    client = login(UserFactory(role=role))
    for url in page_urls(application):
        response = client.get(url)
        assert response.status_code == 200, url
        html = assert_csp_clean(response)
        assert re.search(r'<nav class="subnav" aria-label="Monitoring">', html)
        assert re.search(r"<h1>", html)


def test_an_unknown_or_absurd_application_is_not_found(login, l1, db):
    client = login(l1)
    assert client.get("/monitoring/applications/424242/").status_code == 404
    assert client.get(f"/monitoring/applications/{HUGE}/").status_code == 404


# --- applications -------------------------------------------------------------------------


def test_tiles_show_score_health_and_what_is_open(login, l1, application):
    quiet = ApplicationFactory(name="Quiet CRM")
    monitor = MonitorFactory(application=application)
    AlertFactory(monitor=monitor, severity=Severity.WARNING)
    AlertFactory(monitor=MonitorFactory(application=application), severity=Severity.CRITICAL)
    AlertFactory(monitor=MonitorFactory(application=application), state=AlertState.RESOLVED)
    TicketFactory(kind=Kind.INCIDENT, application=application, major=True)
    TicketFactory(kind=Kind.INCIDENT, application=application)  # not major, no alert: not an open incident here
    MonitorFactory(application=quiet, state=MonitorState.NO_DATA)
    html = login(l1).get(APPLICATIONS).content.decode()
    tiles = dict(
        re.findall(
            r'<a class="card tile" href="/monitoring/applications/\d+/">\s*<h2>([^<]+)</h2>(.*?)</a>', html, re.DOTALL
        )
    )
    assert set(tiles) == {"Webshop", "Quiet CRM"}
    assert '<span class="badge state-critical">Critical</span>' in tiles["Webshop"]
    assert "2 firing alerts · 1 open incident" in tiles["Webshop"]
    assert re.search(
        r'<span class="score">[A-F]</span> <span class="figure-label">App Score [\d.]+ of 100</span>', tiles["Webshop"]
    )
    assert '<span class="badge state-no_data">No data</span>' in tiles["Quiet CRM"]
    assert "0 firing alerts · 0 open incidents" in tiles["Quiet CRM"]


@pytest.mark.parametrize("count", [2, 20])
def test_tiles_cost_the_same_queries_for_2_or_20_applications(login, l1, count, django_assert_max_num_queries):
    for _ in range(count):
        monitor = MonitorFactory()
        AlertFactory(monitor=monitor, ticket=TicketFactory(kind=Kind.INCIDENT, application=monitor.application))
        TicketFactory(kind=Kind.INCIDENT, application=monitor.application, major=True)
        samples(monitor, [1.0, 2.0])
    client = login(l1)
    # session, user, count, page, 2 for the scores, firing alerts, no-data monitors, incidents
    with django_assert_max_num_queries(9):
        response = client.get(APPLICATIONS)
    assert response.content.decode().count('class="card tile"') == count


def test_tiles_are_paginated(login, l1, settings, db):
    settings.HELPDESK_PAGE_SIZE = 3
    ApplicationFactory.create_batch(7)
    html = login(l1).get(APPLICATIONS, {"page": "3"}).content.decode()
    assert html.count('class="card tile"') == 1
    assert "Page 3 of 3 (7 in all)" in html
    assert login(l1).get(APPLICATIONS, {"page": "junk"}).status_code == 200  # a bad page number is page 1


# --- one application ------------------------------------------------------------------------


@pytest.fixture
def dynamic_monitor(application):
    return MonitorFactory(
        application=application,
        name="Error rate",
        query="error_rate",
        unit="%",
        baseline_kind="dynamic",
        warning=None,
        critical=None,
        outage=None,
        baseline={"lower": 0.5, "upper": 2.5, "center": 1.5, "learning": False, "spread": 0.3, "min_width": 0.1},
    )


def test_each_monitor_has_a_chart_with_its_band_or_thresholds(login, l1, application, dynamic_monitor):
    static = MonitorFactory(application=application, name="Response time", state=MonitorState.WARNING, last_value=612)
    samples(static, [300, 450, 612])
    samples(dynamic_monitor, [1.0, 1.4, 1.2])
    html = login(l1).get(application_url(application)).content.decode()
    charts = dict(re.findall(r'<h3 id="monitor-\d+">([^<]+)</h3>.*?(<svg .*?</svg>)', html, re.DOTALL))
    assert set(charts) == {"Response time", "Error rate"}
    assert 'class="threshold-warning"' in charts["Response time"] and 'class="band"' not in charts["Response time"]
    assert "warning threshold 500 ms, critical threshold 1,000 ms" in charts["Response time"]
    assert 'class="band"' in charts["Error rate"] and "threshold-" not in charts["Error rate"]
    assert "Baseline band 0.50% to 2.50%" in charts["Error rate"]
    assert "3 samples from" in charts["Response time"]
    assert '<span class="badge state-warning">Warning</span>' in html
    assert "Latest 612 ms" in html


def test_a_monitor_without_samples_says_so(login, l1, application):
    MonitorFactory(application=application)
    html = login(l1).get(application_url(application)).content.decode()
    assert "No data for this period" in html


@pytest.mark.parametrize(("hours", "in_chart"), [("1", 1), ("6", 2), ("24", 3), ("168", 4)])
def test_the_period_chooses_which_samples_are_drawn(login, l1, application, hours, in_chart):
    monitor = MonitorFactory(application=application)
    now = timezone.now()
    ages = [timedelta(minutes=30), timedelta(hours=5), timedelta(hours=20), timedelta(days=6)]
    Sample.objects.bulk_create(Sample(monitor=monitor, at=now - age, value=100.0) for age in ages)
    response = login(l1).get(application_url(application), {"hours": hours})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{in_chart} sample{'' if in_chart == 1 else 's'} from" in html
    assert f'<option value="{hours}" selected>' in html


@pytest.mark.parametrize("hours", ["abc", "5", "-1", "0", HUGE, "24.0", ""])
def test_a_bad_period_is_refused_and_the_last_day_shown(login, l1, application, hours):
    MonitorFactory(application=application)
    response = login(l1).get(application_url(application), {"hours": hours})
    html = response.content.decode()
    if hours == "":
        assert response.status_code == 200  # no choice made: the default
    else:
        assert response.status_code == 400
        assert "Unknown period" in html
    assert '<option value="24" selected>' in html
    assert "<svg " in html


def test_firing_alerts_can_be_acknowledged_and_incidents_are_linked(login, l1, application):
    incident = TicketFactory(kind=Kind.INCIDENT, application=application, title="Webshop is slow")
    alert = AlertFactory(monitor=MonitorFactory(application=application), name="Slow checkout", ticket=incident)
    AlertFactory(monitor=MonitorFactory(application=application), name="Old trouble", state=AlertState.RESOLVED)
    html = login(l1).get(application_url(application)).content.decode()
    assert "Slow checkout" in html and "Old trouble" not in html
    assert f'<form method="post" action="/monitoring/alerts/{alert.pk}/acknowledge/"' in html
    assert f'<a href="/tickets/{incident.pk}/">{incident.number}</a>' in html  # from the alert and the incident list
    assert "Webshop is slow" in html
    assert f'href="/monitoring/alerts/?application={application.pk}"' in html
    assert_labelled_controls(html)


@pytest.mark.parametrize("count", [2, 20])
def test_the_application_page_costs_the_same_for_2_or_20_monitors(
    login, l1, application, count, django_assert_max_num_queries
):
    for _ in range(count):
        monitor = MonitorFactory(application=application)
        samples(monitor, [100, 200, 300])
        AlertFactory(monitor=monitor, ticket=TicketFactory(kind=Kind.INCIDENT, application=application))
        TicketFactory(kind=Kind.INCIDENT, application=application, major=True)
    client = login(l1)
    # session, user, application, monitors count + page, series, 2 for the score, alerts, incidents
    with django_assert_max_num_queries(10):
        response = client.get(application_url(application))
    assert response.content.decode().count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == count


# --- alerts -----------------------------------------------------------------------------


@pytest.fixture
def alerts(application):
    other = ApplicationFactory(name="CRM")
    return {
        "warning": AlertFactory(monitor=MonitorFactory(application=application), name="A warning"),
        "critical": AlertFactory(
            monitor=MonitorFactory(application=application), name="A critical", severity=Severity.CRITICAL
        ),
        "resolved": AlertFactory(
            monitor=MonitorFactory(application=application),
            name="A resolved",
            state=AlertState.RESOLVED,
            resolved_at=timezone.now(),
        ),
        "crm": AlertFactory(monitor=MonitorFactory(application=other), name="A CRM outage", severity=Severity.OUTAGE),
    }


def listed(html: str) -> set[str]:
    return set(re.findall(r'<th scope="row">([^<]+?)(?:<br>|</th>)', html))


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({}, {"A warning", "A critical", "A resolved", "A CRM outage"}),
        ({"state": "firing"}, {"A warning", "A critical", "A CRM outage"}),
        ({"state": "resolved"}, {"A resolved"}),
        ({"severity": "critical"}, {"A critical"}),
        ({"state": "firing", "severity": "warning"}, {"A warning"}),
        ({"application": "APP"}, {"A warning", "A critical", "A resolved"}),
        ({"application": "APP", "state": "resolved"}, {"A resolved"}),
    ],
)
def test_alerts_are_filtered_by_state_application_and_severity(login, l1, application, alerts, query, names):
    query = {key: str(application.pk) if value == "APP" else value for key, value in query.items()}
    response = login(l1).get(ALERTS, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(html) == names
    for key, value in query.items():
        assert re.search(rf'<select name="{key}"[^>]*>.*?<option value="{value}" selected>', html, re.DOTALL)


@pytest.mark.parametrize(
    "query",
    [
        {"state": "burning"},
        {"severity": "apocalyptic"},
        {"application": "webshop"},
        {"application": HUGE},
        {"application": "-3"},
        {"acknowledged": "maybe"},
    ],
)
def test_junk_filters_are_a_400_with_the_reason_never_a_500(login, l1, alerts, query):
    response = login(l1).get(ALERTS, query)
    assert response.status_code == 400
    html = assert_csp_clean(response)
    assert "These filters cannot be used" in html
    assert listed(html) == set()


def test_alert_pages_keep_the_filters(login, l1, application, settings):
    settings.HELPDESK_PAGE_SIZE = 2
    monitor = MonitorFactory(application=application)
    for i in range(5):
        AlertFactory(monitor=monitor, fingerprint=f"f{i}", state=AlertState.RESOLVED, resolved_at=timezone.now())
    html = login(l1).get(ALERTS, {"state": "resolved"}).content.decode()
    assert "Page 1 of 3 (5 in all)" in html
    assert 'href="?state=resolved&amp;page=2"' in html
    assert login(l1).get(ALERTS, {"state": "resolved", "page": "999"}).status_code == 200  # the last page


@pytest.mark.parametrize("count", [2, 20])
def test_the_alert_list_costs_the_same_for_2_or_20_alerts(login, l1, count, django_assert_max_num_queries):
    manager = UserFactory(role=Role.MANAGER)
    for i in range(count):
        incident = TicketFactory(kind=Kind.INCIDENT)
        AlertFactory(ticket=incident, acknowledged=bool(i % 2), acknowledged_by=manager if i % 2 else None)
    client = login(l1)
    # session, user, count, page (with applications and acknowledgers joined), the application filter's options
    with django_assert_max_num_queries(5):
        response = client.get(ALERTS)
    assert len(listed(response.content.decode())) == count


# --- acknowledging ------------------------------------------------------------------------


def test_an_agent_acknowledges_through_the_service_and_returns_to_the_page(login, l1, application):
    alert = AlertFactory(monitor=MonitorFactory(application=application))
    back = application_url(application) + "?hours=6"
    response = login(l1).post(acknowledge_url(alert), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by == l1 and alert.acknowledged_at is not None
    html = login(l1).get(back).content.decode()
    assert f"Acknowledged: {alert.name}." in html
    assert acknowledge_url(alert) not in html


def test_acknowledging_again_keeps_the_first_acknowledgement(login, l1, l2):
    alert = AlertFactory()
    login(l1).post(acknowledge_url(alert))
    login(l2).post(acknowledge_url(alert))
    alert.refresh_from_db()
    assert alert.acknowledged_by == l1


def test_acknowledge_never_redirects_off_site(login, l1):
    alert = AlertFactory()
    response = login(l1).post(acknowledge_url(alert), {"next": "https://evil.example/"})
    assert response["Location"] == ALERTS


def test_acknowledge_is_refused_to_customers_anonymous_users_and_gets(client, login, customer, l1):
    alert = AlertFactory()
    assert client.post(acknowledge_url(alert))["Location"].startswith("/login/")
    assert login(customer).post(acknowledge_url(alert)).status_code == 404
    assert login(l1).get(acknowledge_url(alert)).status_code == 405
    assert login(l1).post("/monitoring/alerts/424242/acknowledge/").status_code == 404
    alert.refresh_from_db()
    assert not alert.acknowledged


# --- silences -----------------------------------------------------------------------------


def silence_form(app, **fields) -> dict:
    now = timezone.localtime()
    return {
        "application": app.pk,
        "monitor": "",
        "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "Database upgrade",
        **fields,
    }


def test_agents_read_silences_but_only_managers_get_the_form(login, l2, manager, application):
    SilenceFactory(application=application, reason="Patch night")
    l2_html = login(l2).get(SILENCES).content.decode()
    assert "Patch night" in l2_html and "New silence" not in l2_html and "End now" not in l2_html
    manager_html = login(manager).get(SILENCES).content.decode()
    assert "New silence" in manager_html and "End now" in manager_html
    assert_labelled_controls(manager_html)


def test_a_manager_creates_a_silence_through_the_service(login, manager, application):
    response = login(manager).post(SILENCES, silence_form(application))
    assert response.status_code == 302 and response["Location"] == SILENCES
    silence = Silence.objects.get()
    assert silence.application == application and silence.created_by == manager
    assert silence.reason == "Database upgrade"
    assert silence.ends_at - silence.starts_at == timedelta(hours=2)


@pytest.mark.parametrize("role", [Role.L1, Role.L2, Role.L3, Role.CUSTOMER])
def test_others_cannot_create_silences(login, application, role):
    response = login(UserFactory(role=role)).post(SILENCES, silence_form(application))
    assert response.status_code == 404
    assert not Silence.objects.exists()


def test_anonymous_users_cannot_create_silences(client, application):
    assert client.post(SILENCES, silence_form(application)).status_code == 302
    assert not Silence.objects.exists()


def test_the_services_rules_come_back_as_form_errors(login, manager, application):
    other_monitor = MonitorFactory()  # of another application
    now = timezone.localtime()
    response = login(manager).post(
        SILENCES, silence_form(application, monitor=other_monitor.pk, ends_at=now.strftime("%Y-%m-%dT%H:%M"))
    )
    assert response.status_code == 400
    html = assert_csp_clean(response)
    assert "This monitor belongs to another application." in html
    assert "Must be after starts_at." in html
    assert not Silence.objects.exists()


@pytest.mark.parametrize(
    "fields", [{"starts_at": "tomorrow"}, {"application": "x"}, {"application": HUGE}, {"reason": "r" * 501}]
)
def test_junk_silence_input_is_a_400(login, manager, application, fields):
    response = login(manager).post(SILENCES, silence_form(application, **fields))
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not Silence.objects.exists()


def test_silences_are_filtered_by_whether_they_are_in_force(login, l1, db):
    now = timezone.now()
    SilenceFactory(reason="now")
    SilenceFactory(reason="later", starts_at=now + timedelta(days=1))
    html = login(l1).get(SILENCES, {"active": "true"}).content.decode()
    assert "now" in listed_reasons(html) and "later" not in listed_reasons(html)
    assert login(l1).get(SILENCES, {"active": "perhaps"}).status_code == 400


def listed_reasons(html: str) -> set[str]:
    return set(re.findall(r"<td>([a-z]+)</td>\s*<td>", html))


def test_a_manager_ends_a_silence_in_force(login, manager):
    silence = SilenceFactory(starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=1))
    response = login(manager).post(expire_url(silence))
    assert response.status_code == 302 and response["Location"] == SILENCES
    silence.refresh_from_db()
    assert abs(silence.ends_at - timezone.now()) < timedelta(seconds=10)
    html = login(manager).get(SILENCES).content.decode()
    assert "Silence ended." in html
    assert re.search(r"<td>\s*Ended\s*</td>", html)


def test_an_upcoming_silence_is_withdrawn(login, manager):
    silence = SilenceFactory(starts_at=timezone.now() + timedelta(hours=3))
    login(manager).post(expire_url(silence))
    assert not Silence.objects.filter(pk=silence.pk).exists()


def test_an_ended_silence_cannot_end_again(login, manager):
    ended = SilenceFactory(starts_at=timezone.now() - timedelta(hours=3), ends_at=timezone.now() - timedelta(hours=1))
    before = ended.ends_at
    response = login(manager).post(expire_url(ended), follow=True)
    assert "This silence has already ended." in response.content.decode()
    ended.refresh_from_db()
    assert ended.ends_at == before


@pytest.mark.parametrize("role", [Role.L1, Role.L2, Role.L3, Role.CUSTOMER])
def test_only_managers_end_silences(login, db, role):
    silence = SilenceFactory()
    assert login(UserFactory(role=role)).post(expire_url(silence)).status_code == 404
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now()


def test_ending_a_silence_needs_a_post(client, login, manager):
    silence = SilenceFactory()
    assert client.post(expire_url(silence))["Location"].startswith("/login/")
    assert login(manager).get(expire_url(silence)).status_code == 405
    assert login(manager).post("/monitoring/silences/424242/expire/").status_code == 404


@pytest.mark.parametrize("count", [2, 20])
def test_the_silence_list_costs_the_same_for_2_or_20(login, manager, count, django_assert_max_num_queries):
    for i in range(count):
        monitor = MonitorFactory()
        SilenceFactory(application=monitor.application, monitor=monitor if i % 2 else None, created_by=manager)
    client = login(manager)
    # session, user, count, page; the form's application and monitor choices
    with django_assert_max_num_queries(6):
        response = client.get(SILENCES)
    assert response.content.decode().count("End now") == count


# --- the pages as a whole -------------------------------------------------------------------


def test_every_page_obeys_the_csp_and_labels_its_controls(login, manager, application, alerts, dynamic_monitor):
    samples(dynamic_monitor, [1.0, 2.0, 3.0])
    SilenceFactory(application=application)
    client = login(manager)
    for url in page_urls(application):
        html = assert_csp_clean(client.get(url))
        assert_labelled_controls(html)
        assert "<th>" not in html  # every header cell says what it heads (scope)
        assert 'class="skip-link"' in html


def test_the_alerts_and_silences_of_a_deleted_monitor_still_list(login, manager, application):
    monitor = MonitorFactory(application=application)
    AlertFactory(monitor=monitor, name="Orphan")
    Alert.objects.filter(monitor=monitor).update(monitor=None, application=None)
    html = login(manager).get(ALERTS).content.decode()
    assert "Orphan" in html
