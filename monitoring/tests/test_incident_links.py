"""Which incidents speak for an application (issue 11 item 7): only those an alert
opened or an agent flagged major are shown in the console's banner, the API's
suggestions and application health, and only they take linked tickets. A
customer's self-made "incident", even once an agent made it kind=incident, is
none of these."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Alert
from monitoring.selectors import application_health, application_overviews
from monitoring.services import alerts
from monitoring.tests.factories import MonitorFactory
from monitoring.tests.helpers import Clock
from tickets import services
from tickets.models import Kind, Level, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory, if_match

pytestmark = pytest.mark.django_db

API = "/api/v1/tickets/"
NOT_LINKABLE = "Tickets can only be linked to an incident opened by an alert or flagged major by an agent."


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def app(db):
    return ApplicationFactory(name="Webshop", criticality=Level.HIGH)


@pytest.fixture
def incidents(time_machine, app, api, customer, l1, l2) -> SimpleNamespace:
    clock = Clock(time_machine)
    # Born from an alert: a reading above the warning threshold (500) opens it.
    monitor = MonitorFactory(application=app, breach_polls=1)
    alerts.reading_record(monitor_id=monitor.pk, value=700, at=clock.tick())
    alert_born = Alert.objects.get(monitor=monitor).ticket
    # Logged by an agent and flagged major.
    major = services.ticket_create(
        actor=l2, requester=l2, title="Payments down", kind=Kind.INCIDENT, major=True, application=app, tier=2
    )
    # A customer's P1 "incident": stored as a service request; an agent then makes it
    # kind=incident at high/high without flagging it major.
    body = {"title": "EVERYTHING DOWN", "application": app.pk, "kind": "incident", "urgency": "high", "impact": "high"}
    r = api.as_(customer).post(API, body, format="json")
    assert r.status_code == 201 and r.data["kind"] == "service_request" and r.data["priority"] == 3
    forged = services.ticket_update(
        ticket=r.data["id"], actor=l1, changes={"kind": Kind.INCIDENT, "urgency": Level.HIGH, "impact": Level.HIGH}
    )
    assert (forged.kind, forged.priority, forged.major) == ("incident", 1, False)
    assert alert_born.requester == services.system_user() and alert_born.urgency == Level.MEDIUM
    return SimpleNamespace(alert_born=alert_born, major=major, forged=forged, offered={alert_born.pk, major.pk})


def test_the_console_banner_offers_only_alert_born_and_major_incidents(app, incidents, l1):
    html = page_client(l1).get("/console/incidents/", {"application": app.pk}).content.decode()
    assert incidents.alert_born.number in html and incidents.major.number in html
    assert incidents.forged.number not in html


def test_the_api_suggests_only_alert_born_and_major_incidents(api, app, incidents, l1, other_customer):
    r = api.as_(l1).post(API, {"title": "Cannot pay", "requester": other_customer.pk, "application": app.pk})
    assert r.status_code == 201
    assert {s["id"] for s in r.data["suggested_incidents"]} == incidents.offered


def test_application_health_counts_only_alert_born_and_major_incidents(api, app, incidents, l1):
    assert {t["id"] for t in application_health(app)["open_incidents"]} == incidents.offered
    body = api.as_(l1).get(f"/api/v1/applications/{app.pk}/health/").json()
    assert {t["id"] for t in body["open_incidents"]} == incidents.offered
    [overview] = application_overviews([app])
    assert overview.open_incidents == 2
    assert "2 open incidents" in page_client(l1).get("/monitoring/").content.decode()


def _link_attempts(api, l1, other_customer, ticket: Ticket, incident: Ticket, app) -> dict[str, int]:
    """Every way an agent links a ticket to an incident, with the status each answered."""
    codes = {}
    r = api.as_(l1).patch(f"{API}{ticket.pk}/", {"parent": incident.pk}, format="json", **if_match(ticket))
    codes["api patch"] = r.status_code
    if r.status_code == 400:
        assert r.data == {"parent": [NOT_LINKABLE]}
    r = api.as_(l1).post(API, {"title": "x", "requester": other_customer.pk, "parent": incident.pk}, format="json")
    codes["api create"] = r.status_code
    client = page_client(l1)
    r = client.post(f"/tickets/{ticket.pk}/link/", {"incident": incident.number})
    codes["ticket page"] = r.status_code
    if r.status_code == 400:
        assert NOT_LINKABLE in r.content.decode()
    console = {"requester_email": other_customer.email, "title": "Cannot pay", "kind": "service_request",
               "urgency": "medium", "impact": "medium", "application": app.pk, "parent": incident.pk}  # fmt: skip
    codes["console"] = client.post("/console/", console).status_code
    return codes


def test_linking_to_a_customer_made_incident_is_a_400_that_changes_nothing(api, app, incidents, l1, other_customer):
    ticket = TicketFactory(requester=other_customer, application=app)
    tickets, events = Ticket.objects.count(), TicketEvent.objects.count()
    codes = _link_attempts(api, l1, other_customer, ticket, incidents.forged, app)
    assert codes == {"api patch": 400, "api create": 400, "ticket page": 400, "console": 400}
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == (tickets, events)
    assert Ticket.objects.get(pk=incidents.forged.pk).linked_count == 0
    assert Ticket.objects.get(pk=ticket.pk).parent_id is None


@pytest.mark.parametrize("which", ["alert_born", "major"])
def test_alert_born_and_major_incidents_take_links(api, app, incidents, l1, other_customer, which):
    incident = getattr(incidents, which)
    codes = _link_attempts(api, l1, other_customer, TicketFactory(requester=other_customer), incident, app)
    # The page's link, after the API's, is "already linked": a no-op that still redirects.
    assert codes == {"api patch": 200, "api create": 201, "ticket page": 303, "console": 302}
    assert Ticket.objects.get(pk=incident.pk).linked_count == 3


def test_an_unflagged_or_resolved_incident_is_no_longer_offered_or_linkable(api, app, incidents, l1, l2):
    services.ticket_update(ticket=incidents.major, actor=l2, changes={"major": False})
    services.ticket_transition(ticket=incidents.alert_born, actor=l2, status="resolved", resolution="Fixed.")
    assert application_health(app)["open_incidents"] == []
    ticket = TicketFactory(application=app)
    for incident in (incidents.major, incidents.alert_born):
        r = api.as_(l1).patch(f"{API}{ticket.pk}/", {"parent": incident.pk}, format="json", **if_match(ticket))
        assert r.status_code == 400 and "parent" in r.data


@pytest.mark.parametrize("count", [1, 10])
def test_the_banner_costs_the_same_queries_for_1_or_10_incidents(app, l1, count, django_assert_max_num_queries):
    for n in range(count):
        monitor = MonitorFactory(application=app)
        Alert.objects.create(monitor=monitor, application=app, fingerprint=f"f{n}", name="Slow", severity="warning",
                             started_at=monitor.created_at, last_seen_at=monitor.created_at,
                             ticket=TicketFactory(kind=Kind.INCIDENT, application=app))  # fmt: skip
        TicketFactory(kind=Kind.INCIDENT, application=app, major=True)
        TicketFactory(kind=Kind.INCIDENT, application=app)  # neither: not shown
    client = page_client(l1)
    # session, user, the incidents (with the alert test inside the one query)
    with django_assert_max_num_queries(3):
        html = client.get("/console/incidents/", {"application": app.pk}).content.decode()
    assert html.count('name="parent"') == min(2 * count, 5) + 1  # the banner shows 5, plus "do not link"
