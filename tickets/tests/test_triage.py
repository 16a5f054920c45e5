"""Triage is the agents' work (docs/PRODUCT.md "Triage", issue 11 item 7): a customer's ticket starts as a
medium/medium service request whatever the customer sends, and only agents change kind,
urgency, impact, the major flag or the incident link."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from helpdesk.errors import InvalidInput, NotAllowed
from tickets import services
from tickets.events import EventKind
from tickets.models import Kind, Level, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory, if_match
from tickets.tests.services_helpers import create, events_of, fresh

pytestmark = pytest.mark.django_db

API = "/api/v1/tickets/"
FORGED = {"kind": "incident", "urgency": "high", "impact": "high", "major": True}
DEFAULTS = {"kind": "service_request", "urgency": "medium", "impact": "medium", "major": False, "priority": 3}


def stored(ticket_id: int) -> dict:
    return Ticket.objects.filter(pk=ticket_id).values(*DEFAULTS).get()


# --- customers' tickets start at the defaults ------------------------------------------------------


def test_customer_api_create_ignores_kind_urgency_impact_and_major(api, customer):
    r = api.as_(customer).post(API, {"title": "Everything is down!!!", **FORGED}, format="json")
    assert r.status_code == 201, r.data
    assert {k: r.data[k] for k in DEFAULTS} == DEFAULTS  # P3 by the matrix, not the P1 asked for
    assert stored(r.data["id"]) == DEFAULTS
    [created] = TicketEvent.objects.filter(ticket_id=r.data["id"])
    assert {k: created.data["after"][k] for k in DEFAULTS} == DEFAULTS
    assert "suggested_incidents" not in r.data


def test_customer_service_create_ignores_them_whatever_the_path(customer):
    # The rule is in the service: the API, the portal and any future channel share it.
    ticket = services.ticket_create(
        actor=customer, title="x", kind=Kind.INCIDENT, urgency=Level.HIGH, impact=Level.HIGH, major=True, tier=3
    )
    assert stored(ticket.pk) == DEFAULTS and fresh(ticket).tier == 1


def test_portal_new_request_ignores_them(customer):
    client = Client()
    client.force_login(customer)
    response = client.post("/portal/new/", {"title": "Site down", "description": "help", **FORGED, "tier": 3})
    assert response.status_code == 303
    ticket = Ticket.objects.get(requester=customer)
    assert stored(ticket.pk) == DEFAULTS and ticket.tier == 1


def test_the_system_user_keeps_the_levels_its_alert_gives():
    system = services.system_user()
    ticket = services.ticket_create(
        actor=system, requester=system, title="[CRITICAL] Webshop", kind=Kind.INCIDENT,
        urgency=Level.HIGH, impact=Level.HIGH, tier=2,
    )  # fmt: skip
    assert (ticket.kind, ticket.urgency, ticket.impact, ticket.priority, ticket.tier) == ("incident", "high", "high", 1, 2)


def test_agents_still_set_them(api, l1, customer):
    body = {"title": "Checkout down", "requester": customer.pk, **FORGED}
    r = api.as_(l1).post(API, body, format="json")
    assert r.status_code == 201, r.data
    assert (r.data["kind"], r.data["urgency"], r.data["impact"], r.data["major"], r.data["priority"]) == (
        "incident", "high", "high", True, 1,
    )  # fmt: skip


# --- customers cannot change them afterwards --------------------------------------------------------


@pytest.mark.parametrize("field", ["urgency", "impact", "kind", "major", "parent"])
def test_customer_patch_of_triage_fields_is_refused(api, customer, field):
    incident = TicketFactory(kind=Kind.INCIDENT, major=True)
    value = {"urgency": "high", "impact": "high", "kind": "incident", "major": True, "parent": incident.pk}[field]
    ticket = services.ticket_create(actor=customer, title="Mine")
    before = (stored(ticket.pk), fresh(ticket).version, TicketEvent.objects.count())
    r = api.as_(customer).patch(f"{API}{ticket.pk}/", {field: value}, format="json", **if_match(ticket))
    assert r.status_code == 403, r.data
    assert (stored(ticket.pk), fresh(ticket).version, TicketEvent.objects.count()) == before
    assert fresh(incident).linked_count == 0
    # The service refuses it too, whoever calls it (admin, pages, future channels).
    with pytest.raises(NotAllowed):
        services.ticket_update(ticket=ticket, actor=customer, changes={field: incident if field == "parent" else value})


# --- the agents' major flag ----------------------------------------------------------------------


def test_agent_flags_an_incident_major_and_the_audit_trail_records_it(api, l2, customer):
    incident = create(l2, customer, title="Payments down", kind=Kind.INCIDENT)
    r = api.as_(l2).patch(f"{API}{incident.pk}/", {"major": True}, format="json", **if_match(incident))
    assert r.status_code == 200 and r.data["major"] is True
    [updated] = events_of(incident, EventKind.UPDATED)
    assert updated.actor == l2 and updated.data == {"before": {"major": False}, "after": {"major": True}}
    r = api.as_(l2).patch(f"{API}{incident.pk}/", {"major": False}, format="json", **if_match(fresh(incident)))
    assert r.status_code == 200 and r.data["major"] is False
    assert [e.data["after"] for e in events_of(incident, EventKind.UPDATED)] == [{"major": True}, {"major": False}]


def test_only_incidents_are_major(api, l1, customer):
    request = create(l1, customer, title="New laptop")
    r = api.as_(l1).patch(f"{API}{request.pk}/", {"major": True}, format="json", **if_match(request))
    assert r.status_code == 400 and "major" in r.data
    assert fresh(request).major is False and events_of(request, EventKind.UPDATED) == []
    r = api.as_(l1).post(API, {"title": "x", "requester": customer.pk, "major": True}, format="json")
    assert r.status_code == 400 and "major" in r.data


def test_an_incident_made_a_service_request_stops_being_major(l2, customer):
    incident = create(l2, customer, title="Payments down", kind=Kind.INCIDENT, major=True)
    services.ticket_update(ticket=incident, actor=l2, changes={"kind": Kind.SERVICE_REQUEST})
    assert (fresh(incident).kind, fresh(incident).major) == ("service_request", False)
    [updated] = events_of(incident, EventKind.UPDATED)
    assert updated.data == {
        "before": {"kind": "incident", "major": True},
        "after": {"kind": "service_request", "major": False},
    }
    with pytest.raises(InvalidInput) as exc:
        services.ticket_update(ticket=incident, actor=l2, changes={"major": True})
    assert "major" in exc.value.detail


def test_the_database_refuses_a_major_service_request(customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(kind=Kind.SERVICE_REQUEST, major=True)


def test_agents_flag_major_on_the_ticket_page(l2, customer):
    incident = create(l2, customer, title="Payments down", kind=Kind.INCIDENT)
    client = Client()
    client.force_login(l2)
    page = client.get(f"/tickets/{incident.pk}/").content.decode()
    assert 'id="id_major"' in page and "checked" not in page.split('id="id_major"')[1].split(">")[0]
    response = client.post(f"/tickets/{incident.pk}/major/", {"major": "on"})
    assert response.status_code == 303 and fresh(incident).major is True
    [updated] = events_of(incident, EventKind.UPDATED)
    assert updated.actor == l2 and updated.data == {"before": {"major": False}, "after": {"major": True}}
    page = client.get(f"/tickets/{incident.pk}/").content.decode()
    assert 'id="ticket-major"' in page and 'id="id_major" checked' in page
    # A service request is never major: a 400 with the reason, nothing changes.
    request = create(l2, customer, title="New laptop")
    response = client.post(f"/tickets/{request.pk}/major/", {"major": "on"})
    assert response.status_code == 400 and "Only incidents can be flagged major." in response.content.decode()
    assert fresh(request).major is False and events_of(request, EventKind.UPDATED) == []


def test_customers_cannot_flag_major_on_the_page(customer, l2):
    ticket = services.ticket_create(actor=customer, title="Mine")
    client = Client()
    client.force_login(customer)
    assert 'id="id_major"' not in client.get(f"/tickets/{ticket.pk}/").content.decode()
    version = fresh(ticket).version
    assert client.post(f"/tickets/{ticket.pk}/major/", {"major": "on"}).status_code == 403
    assert (fresh(ticket).major, fresh(ticket).version) == (False, version)
