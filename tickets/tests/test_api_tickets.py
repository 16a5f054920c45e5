"""The ticket endpoints (docs/API.md "Tickets"), per role: shapes, visibility, actions, filters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.tests.factories import ApplicationFactory
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from helpdesk.tokens import api_token_issue
from tickets.models import Comment, Kind, Status, Ticket, TicketEvent
from tickets.tests.factories import CategoryFactory, CommentFactory, TicketFactory, if_match

pytestmark = pytest.mark.django_db

API = "/api/v1/tickets/"

TICKET_FIELDS = {
    "id",
    "number",
    "title",
    "description",
    "kind",
    "status",
    "tier",
    "urgency",
    "impact",
    "major",  # docs/PRODUCT.md "Incident links": an agent-flagged major incident (issue 11 item 7)
    "priority",
    "priority_label",
    "requester",
    "assignee",
    "application",
    "category",
    "parent",
    "linked_count",
    "created_at",
    "updated_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "resolved_at",
    "sla_breached",
    "needs_escalation",
    "cc",  # docs/API.md "Tickets": the CC addresses (issue 13)
    "version",
}
TIME_FIELDS = (
    "created_at",
    "updated_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "resolved_at",
)


def turl(ticket: Ticket | int, suffix: str = "") -> str:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return f"{API}{pk}/{suffix}"


def ids(response) -> list[int]:
    return [row["id"] for row in response.data["results"]]


def state(ticket: Ticket) -> dict:
    """Everything an action could change on a ticket, plus its comment and event counts."""
    fresh = Ticket.objects.get(pk=ticket.pk)
    return {
        "version": fresh.version,
        "status": fresh.status,
        "tier": fresh.tier,
        "assignee": fresh.assignee_id,
        "title": fresh.title,
        "urgency": fresh.urgency,
        "comments": Comment.objects.filter(ticket=fresh).count(),
        "events": TicketEvent.objects.filter(ticket=fresh).count(),
    }


def assert_iso_utc(value: str | None) -> None:
    if value is None:
        return
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0), value


@pytest.fixture
def ticket(customer):
    """A new, unassigned tier-1 ticket of `customer`."""
    return TicketFactory(requester=customer)


@pytest.fixture
def foreign_ticket(other_customer):
    return TicketFactory(requester=other_customer)


# --- authentication --------------------------------------------------------------

ANON_CALLS = [
    ("get", ""),
    ("post", ""),
    ("get", "{id}/"),
    ("patch", "{id}/"),
    ("post", "{id}/claim/"),
    ("post", "{id}/assign/"),
    ("post", "{id}/escalate/"),
    ("post", "{id}/deescalate/"),
    ("post", "{id}/transition/"),
    ("get", "{id}/comments/"),
    ("post", "{id}/comments/"),
    ("get", "{id}/events/"),
    ("post", "next/"),
]


@pytest.mark.parametrize(("method", "path"), ANON_CALLS)
def test_anonymous_gets_401_everywhere(api, ticket, method, path):
    before = state(ticket)
    r = getattr(api.as_(None), method)(API + path.format(id=ticket.pk), {"title": "x", "body": "x"}, format="json")
    assert r.status_code == 401, (method, path, r.status_code)
    assert state(ticket) == before
    assert Ticket.objects.count() == 1


# --- shape ---------------------------------------------------------------------------


def test_ticket_json_has_exactly_the_spec_fields_and_etag(api, l1, ticket):
    r = api.as_(l1).get(turl(ticket))
    assert r.status_code == 200
    assert set(r.data) == TICKET_FIELDS
    assert r["ETag"] == f'"{ticket.version}"'
    assert r.data["version"] == ticket.version and isinstance(r.data["version"], int)
    assert r.data["number"] == f"HD-{ticket.pk:06d}"
    assert r.data["priority_label"] == "medium"
    for field in TIME_FIELDS:
        assert_iso_utc(r.data[field])
    assert r.data["created_at"] is not None


def test_list_rows_have_the_same_fields(api, l1, ticket):
    r = api.as_(l1).get(API)
    assert r.status_code == 200
    assert set(r.data) == {"count", "next", "previous", "results"}
    assert [set(row) for row in r.data["results"]] == [TICKET_FIELDS]


def test_etag_follows_the_version(api, l1, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    ticket.refresh_from_db()
    assert ticket.version > 1
    r = api.as_(l1).get(turl(ticket))
    assert r["ETag"] == f'"{ticket.version}"' and r.data["version"] == ticket.version


# --- create -------------------------------------------------------------------------------


def test_customer_creates_for_themselves(api, customer):
    r = api.as_(customer).post(API, {"title": "Cannot log in", "description": "**help**"}, format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == TICKET_FIELDS
    assert r["ETag"] == '"1"'
    assert r.data["requester"] == customer.pk
    assert r.data["status"] == "new" and r.data["tier"] == 1 and r.data["assignee"] is None
    assert r.data["impact"] == "medium" and r.data["urgency"] == "medium" and r.data["priority"] == 3
    assert r.data["kind"] == "service_request"
    created = TicketEvent.objects.get(ticket_id=r.data["id"])
    assert created.kind == "created" and created.actor_id == customer.pk


def test_customer_requester_email_is_ignored(api, customer):
    users = User.objects.count()
    r = api.as_(customer).post(API, {"title": "x", "requester_email": "someone@else.org"}, format="json")
    assert r.status_code == 201, r.data
    assert r.data["requester"] == customer.pk
    assert User.objects.count() == users


def test_customer_may_name_themselves_but_nobody_else(api, customer, other_customer):
    r = api.as_(customer).post(API, {"title": "x", "requester": customer.pk}, format="json")
    assert r.status_code == 201 and r.data["requester"] == customer.pk
    r = api.as_(customer).post(API, {"title": "x", "requester": other_customer.pk}, format="json")
    assert r.status_code == 400 and "requester" in r.data
    assert not Ticket.objects.filter(requester=other_customer).exists()


def test_customer_cannot_link_a_parent(api, customer):
    incident = TicketFactory(kind=Kind.INCIDENT)
    r = api.as_(customer).post(API, {"title": "x", "parent": incident.pk}, format="json")
    assert r.status_code == 400 and "parent" in r.data
    assert Ticket.objects.count() == 1


def test_agent_creates_with_requester_id(api, l1, customer):
    r = api.as_(l1).post(
        API, {"title": "Printer", "requester": customer.pk, "impact": "high", "urgency": "low"}, format="json"
    )
    assert r.status_code == 201, r.data
    assert r.data["requester"] == customer.pk and r.data["priority"] == 3 and r.data["impact"] == "high"


def test_agent_creates_with_requester_email_finding_or_creating_the_customer(api, l1, customer):
    r = api.as_(l1).post(API, {"title": "x", "requester_email": customer.email.upper()}, format="json")
    assert r.status_code == 201 and r.data["requester"] == customer.pk
    r = api.as_(l1).post(API, {"title": "x", "requester_email": "New.Person@Example.org"}, format="json")
    assert r.status_code == 201, r.data
    new = User.objects.get(pk=r.data["requester"])
    assert new.role == Role.CUSTOMER and new.email == "new.person@example.org" and not new.has_usable_password()


def test_agent_must_name_a_requester(api, l1):
    r = api.as_(l1).post(API, {"title": "x"}, format="json")
    assert r.status_code == 400 and "requester" in r.data
    assert Ticket.objects.count() == 0


def test_create_ignores_derived_and_action_fields(api, l2, customer):
    body = {"title": "x", "requester": customer.pk, "priority": 1, "tier": 3, "status": "closed", "assignee": l2.pk}
    r = api.as_(l2).post(API, body, format="json")
    assert r.status_code == 201, r.data
    assert (r.data["priority"], r.data["tier"], r.data["status"], r.data["assignee"]) == (3, 1, "new", None)


def test_agent_links_to_an_incident_on_create(api, l1, customer):
    incident = TicketFactory(kind=Kind.INCIDENT, major=True)
    r = api.as_(l1).post(API, {"title": "x", "requester": customer.pk, "parent": incident.pk}, format="json")
    assert r.status_code == 201, r.data
    assert r.data["parent"] == incident.pk
    incident.refresh_from_db()
    assert incident.linked_count == 1


# --- visibility -------------------------------------------------------------------------------


def test_customer_list_shows_only_their_own(api, customer, ticket, foreign_ticket):
    mine2 = TicketFactory(requester=customer, status=Status.CLOSED)
    r = api.as_(customer).get(API)
    assert r.status_code == 200
    assert sorted(ids(r)) == sorted([ticket.pk, mine2.pk])
    # Filters cannot widen it.
    r = api.as_(customer).get(API, {"requester": foreign_ticket.requester_id})
    assert r.status_code == 200 and r.data["count"] == 0
    r = api.as_(customer).get(API, {"q": foreign_ticket.number})
    assert r.status_code == 200 and r.data["count"] == 0


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_every_agent_reads_every_ticket(api, request, role, ticket, foreign_ticket):
    tier3 = TicketFactory(tier=3)
    agent = request.getfixturevalue(role)
    r = api.as_(agent).get(API)
    assert sorted(ids(r)) == sorted([ticket.pk, foreign_ticket.pk, tier3.pk])
    assert api.as_(agent).get(turl(tier3)).status_code == 200


FOREIGN_CALLS = [
    ("get", "", None),
    ("patch", "", {"title": "mine now"}),
    ("post", "claim/", None),
    ("post", "assign/", {"assignee": None}),
    ("post", "escalate/", {"to_tier": 2, "reason": "r"}),
    ("post", "deescalate/", {"to_tier": 1, "reason": "r"}),
    ("post", "transition/", {"status": "resolved", "resolution": "done"}),
    ("get", "comments/", None),
    ("post", "comments/", {"body": "hello"}),
    ("get", "events/", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), FOREIGN_CALLS)
def test_another_customers_ticket_is_404_never_403(api, customer, foreign_ticket, method, suffix, body):
    before = state(foreign_ticket)
    r = getattr(api.as_(customer), method)(turl(foreign_ticket, suffix), body, format="json")
    assert r.status_code == 404, (suffix, r.status_code, r.data)
    missing = getattr(api.as_(customer), method)(turl(10**6, suffix), body, format="json")
    assert missing.status_code == 404
    assert r.data == missing.data  # indistinguishable from a ticket that does not exist
    assert state(foreign_ticket) == before


def test_missing_ticket_is_404_for_agents(api, l1):
    assert api.as_(l1).get(turl(424242)).status_code == 404
    assert api.as_(l1).get(f"{API}abc/").status_code == 404


def test_deactivated_customer_loses_access(customer, ticket):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=customer).key}")
    assert client.get(turl(ticket)).status_code == 200
    customer.is_active = False
    customer.save()
    assert client.get(turl(ticket)).status_code == 401
    assert client.get(API).status_code == 401


# --- PATCH, ETag, If-Match --------------------------------------------------------------------


def test_patch_editable_fields(api, l1, ticket):
    category = CategoryFactory()
    app = ApplicationFactory()
    body = {
        "title": "New title",
        "description": "More detail",
        "urgency": "high",
        "impact": "high",
        "category": category.pk,
        "application": app.pk,
        "kind": "incident",
    }
    r = api.as_(l1).patch(turl(ticket), body, format="json", HTTP_IF_MATCH=f'"{ticket.version}"')
    assert r.status_code == 200, r.data
    for key, value in body.items():
        assert r.data[key] == value
    assert r.data["priority"] == 1 and r.data["priority_label"] == "critical"
    assert r.data["version"] == ticket.version + 1
    assert r["ETag"] == f'"{ticket.version + 1}"'
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert "updated" in kinds and "priority_changed" in kinds


def test_patch_links_and_unlinks_a_parent(api, l1, ticket):
    incident = TicketFactory(kind=Kind.INCIDENT, major=True)
    r = api.as_(l1).patch(turl(ticket), {"parent": incident.pk}, format="json", **if_match(ticket))
    assert r.status_code == 200 and r.data["parent"] == incident.pk
    assert Ticket.objects.get(pk=incident.pk).linked_count == 1
    r = api.as_(l1).patch(turl(ticket), {"parent": None}, format="json", **if_match(ticket))
    assert r.status_code == 200 and r.data["parent"] is None
    assert Ticket.objects.get(pk=incident.pk).linked_count == 0


def test_patch_parent_must_be_an_incident_and_not_itself(api, l1, ticket):
    before = state(ticket)
    other = TicketFactory(kind=Kind.SERVICE_REQUEST)
    assert api.as_(l1).patch(turl(ticket), {"parent": other.pk}, format="json", **if_match(ticket)).status_code == 400
    ticket.kind = Kind.INCIDENT
    ticket.save()
    before = state(ticket)
    assert api.as_(l1).patch(turl(ticket), {"parent": ticket.pk}, format="json", **if_match(ticket)).status_code == 400
    assert state(ticket) == before


def test_if_match_current_version_succeeds_weak_and_star_too(api, l1, ticket):
    r = api.as_(l1).patch(turl(ticket), {"title": "a"}, format="json", HTTP_IF_MATCH=f'W/"{ticket.version}"')
    assert r.status_code == 200, r.data
    r = api.as_(l1).patch(turl(ticket), {"title": "b"}, format="json", HTTP_IF_MATCH="*")
    assert r.status_code == 200 and r.data["title"] == "b"


@pytest.mark.parametrize("header", ['"1"', '"99"', 'W/"0"', "garbage"])
def test_if_match_stale_is_412_and_changes_nothing(api, l1, ticket, header):
    api.as_(l1).patch(turl(ticket), {"title": "v2"}, format="json", **if_match(ticket))  # version 2
    before = state(ticket)
    r = api.as_(l1).patch(turl(ticket), {"title": "lost update"}, format="json", HTTP_IF_MATCH=header)
    assert r.status_code == 412, r.data
    assert state(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).title == "v2"


def test_stale_if_match_on_transition_is_412(api, l1, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    before = state(ticket)
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "pending"}, format="json", HTTP_IF_MATCH='"1"')
    assert r.status_code == 412
    assert state(ticket) == before


@pytest.mark.parametrize(
    "body",
    [
        {"status": "closed"},
        {"tier": 2},
        {"assignee": None},
        {"title": "sneaky", "status": "resolved"},
        {"priority": 1},
        {"version": 7},
        {"requester": 1},
        {"number": "HD-1"},
    ],
)
def test_patch_of_action_or_derived_fields_is_400(api, l1, ticket, body):
    before = state(ticket)
    r = api.as_(l1).patch(turl(ticket), body, format="json", **if_match(ticket))
    assert r.status_code == 400, r.data
    assert set(body) - {"title"} <= set(r.data)
    assert state(ticket) == before


def test_patch_no_change_keeps_the_version(api, l1, ticket):
    r = api.as_(l1).patch(turl(ticket), {"title": ticket.title}, format="json", **if_match(ticket))
    assert r.status_code == 200 and r.data["version"] == ticket.version


def test_customer_cannot_patch_own_ticket(api, customer, ticket):
    before = state(ticket)
    r = api.as_(customer).patch(turl(ticket), {"title": "mine"}, format="json", **if_match(ticket))
    assert r.status_code == 403
    assert state(ticket) == before


def test_l1_cannot_patch_a_tier3_ticket(api, l1, l3):
    t = TicketFactory(tier=3)
    before = state(t)
    assert api.as_(l1).patch(turl(t), {"title": "x"}, format="json", **if_match(t)).status_code == 403
    assert state(t) == before
    assert api.as_(l3).patch(turl(t), {"title": "x"}, format="json", **if_match(t)).status_code == 200


def test_closed_ticket_cannot_be_patched(api, l1):
    t = TicketFactory(status=Status.CLOSED)
    before = state(t)
    assert api.as_(l1).patch(turl(t), {"title": "x"}, format="json", **if_match(t)).status_code == 409
    assert state(t) == before


@pytest.mark.parametrize("method", ["put", "delete"])
def test_ticket_put_and_delete_are_not_allowed(api, manager, ticket, method):
    before = state(ticket)
    r = getattr(api.as_(manager), method)(turl(ticket), {"title": "x"}, format="json")
    assert r.status_code == 405
    assert state(ticket) == before


# --- claim -------------------------------------------------------------------------------------


def test_claim_makes_the_caller_assignee_and_opens(api, l1, ticket):
    r = api.as_(l1).post(turl(ticket, "claim/"))
    assert r.status_code == 200, r.data
    assert r.data["assignee"] == l1.pk and r.data["status"] == "open"
    assert r["ETag"] == f'"{r.data["version"]}"'
    # Claiming again is a no-op.
    again = api.as_(l1).post(turl(ticket, "claim/"))
    assert again.status_code == 200 and again.data["version"] == r.data["version"]


def test_claim_of_a_held_ticket_is_409(api, l1, l2, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    before = state(ticket)
    r = api.as_(l2).post(turl(ticket, "claim/"))
    assert r.status_code == 409
    assert state(ticket) == before


@pytest.mark.parametrize(
    ("role", "tier", "code"),
    [
        ("l1", 2, 403),
        ("l1", 3, 403),
        ("l2", 3, 403),
        ("l2", 2, 200),
        ("l3", 3, 200),
        ("manager", 3, 200),
        ("admin_user", 3, 200),
        ("customer", 1, 403),
    ],
)
def test_claim_respects_tiers(api, request, role, tier, code):
    user = request.getfixturevalue(role)
    t = TicketFactory(tier=tier, requester=user if role == "customer" else UserFactory())
    before = state(t)
    r = api.as_(user).post(turl(t, "claim/"))
    assert r.status_code == code, r.data
    if code == 200:
        assert r.data["assignee"] == user.pk
    else:
        assert state(t) == before


def test_claim_resolved_ticket_is_409(api, l1):
    t = TicketFactory(status=Status.RESOLVED)
    assert api.as_(l1).post(turl(t, "claim/")).status_code == 409
    assert Ticket.objects.get(pk=t.pk).assignee_id is None


# --- assign ----------------------------------------------------------------------------------------


def test_manager_assigns_and_unassigns(api, manager, l2):
    t = TicketFactory(tier=2)
    r = api.as_(manager).post(turl(t, "assign/"), {"assignee": l2.pk}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["assignee"] == l2.pk and r.data["status"] == "open"
    r = api.as_(manager).post(turl(t, "assign/"), {"assignee": None}, format="json")
    assert r.status_code == 200 and r.data["assignee"] is None
    kinds = list(TicketEvent.objects.filter(ticket=t, kind="assigned").values_list("data", flat=True))
    assert [k["after"]["assignee"] for k in kinds] == [l2.pk, None]


def test_manager_reassigns_a_held_ticket(api, manager, l1, l2, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    r = api.as_(manager).post(turl(ticket, "assign/"), {"assignee": l2.pk}, format="json")
    assert r.status_code == 200 and r.data["assignee"] == l2.pk


def test_agent_cannot_take_a_ticket_someone_else_holds(api, l1, l2, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    before = state(ticket)
    r = api.as_(l2).post(turl(ticket, "assign/"), {"assignee": l2.pk}, format="json")
    assert r.status_code == 403
    assert state(ticket) == before


def test_l1_hands_own_ticket_to_a_colleague(api, l1, ticket):
    colleague = UserFactory(role=Role.L1)
    r = api.as_(l1).post(turl(ticket, "assign/"), {"assignee": colleague.pk}, format="json")
    assert r.status_code == 200 and r.data["assignee"] == colleague.pk


@pytest.mark.parametrize("who", ["customer", "l1"])
def test_assignee_must_be_able_to_work_the_tier(api, manager, request, who):
    t = TicketFactory(tier=2)
    before = state(t)
    r = api.as_(manager).post(turl(t, "assign/"), {"assignee": request.getfixturevalue(who).pk}, format="json")
    assert r.status_code == 400 and "assignee" in r.data
    assert state(t) == before


def test_customer_cannot_assign(api, customer, ticket, l1):
    before = state(ticket)
    assert api.as_(customer).post(turl(ticket, "assign/"), {"assignee": l1.pk}, format="json").status_code == 403
    assert state(ticket) == before


# --- escalate / deescalate ------------------------------------------------------------------------------


def test_l1_escalates_with_handover(api, l1, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    body = {"to_tier": 2, "reason": "needs logs", "summary": "user locked out", "steps_tried": "reset password"}
    r = api.as_(l1).post(turl(ticket, "escalate/"), body, format="json")
    assert r.status_code == 200, r.data
    assert r.data["tier"] == 2 and r.data["assignee"] is None
    event = TicketEvent.objects.filter(ticket=ticket, kind="escalated").get()
    assert event.actor_id == l1.pk
    assert event.data["reason"] == "needs logs" and event.data["summary"] == "user locked out"
    assert event.data["steps_tried"] == "reset password"
    assert event.data["before"] == {"tier": 1, "assignee": l1.pk} and event.data["after"] == {
        "tier": 2,
        "assignee": None,
    }


@pytest.mark.parametrize(
    ("role", "tier", "to_tier", "code"),
    [
        ("l1", 1, 3, 403),  # L1 escalates to 2 only
        ("l1", 3, 3, 403),  # cannot work a tier-3 ticket at all
        ("l1", 2, 3, 403),
        ("l2", 2, 3, 200),
        ("manager", 1, 3, 200),
        ("customer", 1, 2, 403),
    ],
)
def test_escalation_permissions(api, request, role, tier, to_tier, code):
    user = request.getfixturevalue(role)
    t = TicketFactory(tier=tier, requester=user if role == "customer" else UserFactory())
    before = state(t)
    r = api.as_(user).post(turl(t, "escalate/"), {"to_tier": to_tier, "reason": "r"}, format="json")
    assert r.status_code == code, r.data
    if code != 200:
        assert state(t) == before
    else:
        assert r.data["tier"] == to_tier


@pytest.mark.parametrize(
    "body", [{"to_tier": 1, "reason": "r"}, {"to_tier": 2}, {"to_tier": 2, "reason": "   "}, {"reason": "r"}]
)
def test_escalation_needs_a_higher_tier_and_a_reason(api, l1, ticket, body):
    before = state(ticket)
    r = api.as_(l1).post(turl(ticket, "escalate/"), body, format="json")
    assert r.status_code == 400, r.data
    assert state(ticket) == before


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_done_tickets_cannot_be_escalated(api, manager, status):
    t = TicketFactory(status=status)
    before = state(t)
    assert api.as_(manager).post(turl(t, "escalate/"), {"to_tier": 2, "reason": "r"}, format="json").status_code == 409
    assert state(t) == before


def test_deescalate(api, l2):
    t = TicketFactory(tier=2, assignee=l2, status=Status.OPEN)
    r = api.as_(l2).post(turl(t, "deescalate/"), {"to_tier": 1, "reason": "known issue"}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["tier"] == 1 and r.data["assignee"] is None
    event = TicketEvent.objects.get(ticket=t, kind="deescalated")
    assert event.data["reason"] == "known issue"


@pytest.mark.parametrize(
    ("role", "body", "code"),
    [
        ("l1", {"to_tier": 1, "reason": "r"}, 403),
        ("customer", {"to_tier": 1, "reason": "r"}, 403),
        ("l2", {"to_tier": 2, "reason": "r"}, 400),
        ("l2", {"to_tier": 3, "reason": "r"}, 400),
        ("l2", {"to_tier": 1}, 400),
        ("l2", {"to_tier": 1, "reason": ""}, 400),
    ],
)
def test_deescalate_refusals(api, request, role, body, code):
    user = request.getfixturevalue(role)
    t = TicketFactory(tier=2, requester=user if role == "customer" else UserFactory())
    before = state(t)
    assert api.as_(user).post(turl(t, "deescalate/"), body, format="json").status_code == code
    assert state(t) == before


# --- transition ----------------------------------------------------------------------------------------------


def test_transition_lifecycle(api, l1, ticket):
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "resolved"}, format="json")
    assert r.status_code == 400 and "resolution" in r.data
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "resolved", "resolution": "Rebooted"}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["status"] == "resolved" and r.data["resolved_at"] is not None
    assert Ticket.objects.get(pk=ticket.pk).resolution == "Rebooted"
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "open"}, format="json")
    assert r.status_code == 200 and r.data["status"] == "open" and r.data["resolved_at"] is None
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "resolved", "resolution": "x"}, format="json")
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "closed"}, format="json")
    assert r.status_code == 200 and r.data["status"] == "closed"
    before = state(ticket)
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "open"}, format="json")
    assert r.status_code == 409 and r.data["allowed"] == [] and r.data["status"] == "closed"
    assert state(ticket) == before


def test_refused_transition_is_409_with_allowed_targets(api, l1, ticket):
    before = state(ticket)
    r = api.as_(l1).post(turl(ticket, "transition/"), {"status": "closed"}, format="json")
    assert r.status_code == 409
    assert r.data["allowed"] == ["open", "pending", "resolved"]
    assert state(ticket) == before


def test_transition_of_a_higher_tier_ticket_is_403(api, l1):
    t = TicketFactory(tier=2)
    before = state(t)
    r = api.as_(l1).post(turl(t, "transition/"), {"status": "resolved", "resolution": "x"}, format="json")
    assert r.status_code == 403
    assert state(t) == before


def test_customer_reopens_or_closes_resolved_own_ticket_only(api, customer, ticket):
    before = state(ticket)
    assert api.as_(customer).post(turl(ticket, "transition/"), {"status": "pending"}, format="json").status_code == 403
    assert state(ticket) == before
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    r = api.as_(customer).post(turl(ticket, "transition/"), {"status": "open"}, format="json")
    assert r.status_code == 200 and r.data["status"] == "open"
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    r = api.as_(customer).post(turl(ticket, "transition/"), {"status": "closed"}, format="json")
    assert r.status_code == 200 and r.data["status"] == "closed"


# --- comments ----------------------------------------------------------------------------------------------------


def test_agent_public_comment_sets_first_response(api, l1, ticket):
    r = api.as_(l1).post(turl(ticket, "comments/"), {"body": "On it"}, format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == {"id", "ticket", "author", "body", "internal", "via", "created_at", "attachments"}
    assert r.data["attachments"] == []
    assert r.data["author"] == l1.pk and r.data["ticket"] == ticket.pk and r.data["internal"] is False
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert TicketEvent.objects.filter(ticket=ticket, kind="commented").count() == 1


def test_internal_comment_does_not_count_as_first_response(api, l1, ticket):
    r = api.as_(l1).post(turl(ticket, "comments/"), {"body": "note", "internal": True}, format="json")
    assert r.status_code == 201 and r.data["internal"] is True
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None


def test_internal_comments_and_their_events_are_hidden_from_customers(api, customer, l1, ticket):
    api.as_(l1).post(turl(ticket, "comments/"), {"body": "public answer"}, format="json")
    secret = api.as_(l1).post(turl(ticket, "comments/"), {"body": "SECRET internal", "internal": True}, format="json")
    api.as_(l1).post(turl(ticket, "escalate/"), {"to_tier": 2, "reason": "internal reason"}, format="json")

    agent_comments = api.as_(l1).get(turl(ticket, "comments/"))
    assert [c["body"] for c in agent_comments.data["results"]] == ["public answer", "SECRET internal"]
    r = api.as_(customer).get(turl(ticket, "comments/"))
    assert r.status_code == 200
    assert [c["body"] for c in r.data["results"]] == ["public answer"]
    assert r.data["count"] == 1

    agent_events = api.as_(l1).get(turl(ticket, "events/")).data["results"]
    assert any(e["data"].get("comment") == secret.data["id"] for e in agent_events)
    assert any(e["kind"] == "escalated" for e in agent_events)
    r = api.as_(customer).get(turl(ticket, "events/"))
    assert r.status_code == 200
    assert r.data["count"] == len(r.data["results"])
    customer_events = r.data["results"]
    assert all(e["data"].get("comment") != secret.data["id"] for e in customer_events)
    assert not any(e["data"].get("internal") for e in customer_events)
    assert "internal reason" not in str(r.content)
    assert "SECRET" not in str(r.content)
    assert [e["kind"] for e in customer_events] == ["commented"]


def test_customer_cannot_post_internal(api, customer, ticket):
    before = state(ticket)
    r = api.as_(customer).post(turl(ticket, "comments/"), {"body": "x", "internal": True}, format="json")
    assert r.status_code == 400 and "internal" in r.data
    assert state(ticket) == before


def test_customer_comment_reopens_pending_ticket(api, customer, ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.PENDING)
    r = api.as_(customer).post(turl(ticket, "comments/"), {"body": "here are the logs"}, format="json")
    assert r.status_code == 201 and r.data["author"] == customer.pk and r.data["internal"] is False
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.first_responded_at is None


def test_comment_on_closed_ticket_is_409(api, l1):
    t = TicketFactory(status=Status.CLOSED)
    before = state(t)
    assert api.as_(l1).post(turl(t, "comments/"), {"body": "x"}, format="json").status_code == 409
    assert state(t) == before


def test_comment_list_is_paginated(api, l1, ticket):
    CommentFactory.create_batch(30, ticket=ticket)
    r = api.as_(l1).get(turl(ticket, "comments/"), {"page_size": 10})
    assert r.status_code == 200
    assert set(r.data) == {"count", "next", "previous", "results"}
    assert r.data["count"] == 30 and len(r.data["results"]) == 10 and r.data["next"]


# --- events ----------------------------------------------------------------------------------------------------------


def test_events_shape_and_order(api, l1, ticket):
    api.as_(l1).post(turl(ticket, "claim/"))
    r = api.as_(l1).get(turl(ticket, "events/"))
    assert r.status_code == 200
    rows = r.data["results"]
    assert all(set(e) == {"id", "at", "actor", "kind", "data"} for e in rows)
    assert [e["kind"] for e in rows] == ["assigned", "status_changed"]
    assert rows[0]["actor"] == l1.pk and rows[0]["data"] == {"before": {"assignee": None}, "after": {"assignee": l1.pk}}
    for e in rows:
        assert_iso_utc(e["at"])


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("role", ["l1", "manager", "admin_user"])
def test_events_are_read_only(api, request, ticket, method, role):
    user = request.getfixturevalue(role)
    api.as_(user).post(turl(ticket, "comments/"), {"body": "x"}, format="json")
    snapshot = list(TicketEvent.objects.values_list("id", "kind", "data", "actor_id", "at"))
    assert snapshot
    r = getattr(api.as_(user), method)(turl(ticket, "events/"), {"kind": "forged", "data": {}}, format="json")
    assert r.status_code == 405
    event_id = snapshot[0][0]
    r = getattr(api.as_(user), method)(turl(ticket, f"events/{event_id}/"), {"kind": "forged"}, format="json")
    assert r.status_code in (404, 405)
    assert list(TicketEvent.objects.values_list("id", "kind", "data", "actor_id", "at")) == snapshot


def test_customer_sees_creation_and_status_changes_in_events(api, customer, l1):
    tid = api.as_(customer).post(API, {"title": "x"}, format="json").data["id"]
    api.as_(l1).post(turl(tid, "claim/"))
    api.as_(l1).post(turl(tid, "comments/"), {"body": "hi"}, format="json")
    r = api.as_(customer).get(turl(tid, "events/"))
    assert r.status_code == 200
    # Assignment is internal detail; creation, status changes and public comments are not.
    assert [e["kind"] for e in r.data["results"]] == ["created", "status_changed", "commented"]
    assert r.data["results"][1]["data"] == {"before": {"status": "new"}, "after": {"status": "open"}}
    agent = api.as_(l1).get(turl(tid, "events/"))
    assert [e["kind"] for e in agent.data["results"]] == ["created", "assigned", "status_changed", "commented"]


# --- next ticket ----------------------------------------------------------------------------------------------------------


def test_next_ticket_claims_best_priority_then_204(api, l2):
    now = timezone.now()
    low = TicketFactory(tier=2, priority=4)
    best_late = TicketFactory(tier=2, priority=1, resolution_due_at=now + timedelta(hours=5))
    best_early = TicketFactory(tier=2, priority=1, resolution_due_at=now + timedelta(hours=1))
    TicketFactory(tier=2, priority=1, assignee=UserFactory(role=Role.L2), status=Status.OPEN)  # taken
    TicketFactory(tier=2, priority=1, status=Status.RESOLVED)  # done
    TicketFactory(tier=1, priority=1)  # another tier
    TicketFactory(tier=2, priority=1, status=Status.PENDING)  # waiting on the customer

    got = []
    for _ in range(3):
        r = api.as_(l2).post(f"{API}next/", {}, format="json")
        assert r.status_code == 200, r.data
        assert set(r.data) == TICKET_FIELDS
        assert r.data["assignee"] == l2.pk and r.data["status"] == "open"
        assert r["ETag"] == f'"{r.data["version"]}"'
        got.append(r.data["id"])
    assert got == [best_early.pk, best_late.pk, low.pk]
    r = api.as_(l2).post(f"{API}next/", {}, format="json")
    assert r.status_code == 204 and not r.content


def test_next_ticket_for_a_lower_tier(api, l2):
    t1 = TicketFactory(tier=1)
    r = api.as_(l2).post(f"{API}next/", {"tier": 1}, format="json")
    assert r.status_code == 200 and r.data["id"] == t1.pk
    assert api.as_(l2).post(f"{API}next/", {"tier": 1}, format="json").status_code == 204


def test_next_ticket_with_no_body(api, l1, ticket):
    r = api.as_(l1).post(f"{API}next/")
    assert r.status_code == 200 and r.data["id"] == ticket.pk


@pytest.mark.parametrize(("role", "body"), [("l1", {"tier": 2}), ("l2", {"tier": 3}), ("customer", {})])
def test_next_ticket_refusals(api, request, role, body):
    t = TicketFactory(tier=body.get("tier", 1))
    before = state(t)
    r = api.as_(request.getfixturevalue(role)).post(f"{API}next/", body, format="json")
    assert r.status_code == 403
    assert state(t) == before


# --- list filters ----------------------------------------------------------------------------------------------


@pytest.fixture
def spread(customer, other_customer, l1, l2):
    """A spread of tickets to filter."""
    app = ApplicationFactory()
    incident = TicketFactory(kind=Kind.INCIDENT, tier=2, priority=1, requester=other_customer, application=app)
    return {
        "app": app,
        "incident": incident,
        "new": TicketFactory(requester=customer, status=Status.NEW, priority=3),
        "open_l1": TicketFactory(requester=customer, status=Status.OPEN, assignee=l1, priority=2, parent=incident),
        "pending_l2": TicketFactory(
            requester=other_customer, status=Status.PENDING, tier=2, assignee=l2, priority=4, application=app
        ),
        "resolved": TicketFactory(requester=customer, status=Status.RESOLVED, priority=5, sla_breached=True),
        "closed": TicketFactory(
            requester=other_customer, status=Status.CLOSED, tier=3, priority=3, title="Zebra crossing", parent=incident
        ),
    }


def test_filter_status_comma_list(api, l1, spread):
    r = api.as_(l1).get(API, {"status": "new,open"})
    assert r.status_code == 200
    assert set(ids(r)) == {spread["new"].pk, spread["open_l1"].pk, spread["incident"].pk}
    r = api.as_(l1).get(API, {"status": "closed"})
    assert ids(r) == [spread["closed"].pk]
    assert api.as_(l1).get(API, {"status": "open,bogus"}).status_code == 400


@pytest.mark.parametrize(
    ("params", "keys"),
    [
        ({"tier": 2}, {"incident", "pending_l2"}),
        ({"tier": 3}, {"closed"}),
        ({"priority": 1}, {"incident"}),
        ({"priority": 3}, {"new", "closed"}),
        ({"assignee": "none"}, {"incident", "new", "resolved", "closed"}),
        ({"kind": "incident"}, {"incident"}),
        ({"kind": "service_request"}, {"new", "open_l1", "pending_l2", "resolved", "closed"}),
        ({"breached": "true"}, {"resolved"}),
        ({"breached": "false"}, {"incident", "new", "open_l1", "pending_l2", "closed"}),
        ({"q": "zebra"}, {"closed"}),
        ({"tier": 1, "status": "new,resolved"}, {"new", "resolved"}),
    ],
)
def test_simple_filters(api, l1, spread, params, keys):
    r = api.as_(l1).get(API, params)
    assert r.status_code == 200, r.data
    assert set(ids(r)) == {spread[k].pk for k in keys}
    assert r.data["count"] == len(keys)


def test_filter_by_ids(api, l1, l2, customer, other_customer, spread):
    def got(params):
        r = api.as_(l1).get(API, params)
        assert r.status_code == 200, r.data
        return set(ids(r))

    assert got({"assignee": l2.pk}) == {spread["pending_l2"].pk}
    assert got({"assignee": "me"}) == {spread["open_l1"].pk}
    assert got({"requester": customer.pk}) == {spread[k].pk for k in ("new", "open_l1", "resolved")}
    assert got({"requester": other_customer.pk}) == {spread[k].pk for k in ("incident", "pending_l2", "closed")}
    assert got({"application": spread["app"].pk}) == {spread["incident"].pk, spread["pending_l2"].pk}
    assert got({"parent": spread["incident"].pk}) == {spread["open_l1"].pk, spread["closed"].pk}
    assert got({"requester": 10**9}) == set()


def test_assignee_me_for_another_agent(api, l2, spread):
    r = api.as_(l2).get(API, {"assignee": "me"})
    assert ids(r) == [spread["pending_l2"].pk]


def test_q_searches_title_description_and_number(api, l1, customer):
    target = TicketFactory(title="VPN drops", description="since the upgrade", requester=customer)
    TicketFactory(title="Other", description="nothing")

    def found(q):
        r = api.as_(l1).get(API, {"q": q})
        assert r.status_code == 200, r.data
        return ids(r)

    assert found("vpn") == [target.pk]
    assert found("UPGRADE") == [target.pk]
    assert found(target.number) == [target.pk]
    assert found(f"HD-{target.pk:06d}") == [target.pk]
    assert found(target.number.lower()) == [target.pk]
    assert found(f"#{target.pk}") == [target.pk]
    assert found("HD-999999") == []
    assert found("no such words") == []


def test_q_by_number_hd_000123(api, l1, customer):
    Ticket.objects.bulk_create(
        [
            Ticket(pk=123, title="numbered", requester=customer, priority=3),
            Ticket(pk=1234, title="x", requester=customer, priority=3),
        ]
    )
    r = api.as_(l1).get(API, {"q": "HD-000123"})
    assert r.status_code == 200 and ids(r) == [123]
    assert r.data["results"][0]["number"] == "HD-000123"


@pytest.mark.parametrize(
    ("ordering", "key"),
    [
        ("priority", lambda row: (row["priority"],)),
        ("-priority", lambda row: (-row["priority"],)),
        ("created_at", lambda row: (row["created_at"],)),
        ("-id", lambda row: (-row["id"],)),
        ("tier", lambda row: (row["tier"],)),
        ("status", lambda row: (row["status"],)),
    ],
)
def test_ordering(api, l1, spread, ordering, key):
    r = api.as_(l1).get(API, {"ordering": ordering})
    assert r.status_code == 200
    rows = r.data["results"]
    assert len(rows) == 6
    assert [key(row) for row in rows] == sorted(key(row) for row in rows)


def test_default_order_is_newest_first(api, l1, spread):
    r = api.as_(l1).get(API)
    assert ids(r) == sorted(ids(r), reverse=True)


def test_ordering_by_unknown_field_is_400(api, l1, spread):
    assert api.as_(l1).get(API, {"ordering": "password"}).status_code == 400


# --- pagination --------------------------------------------------------------------------------------------------


@pytest.fixture
def many(customer):
    tickets = TicketFactory.build_batch(205, requester=customer)
    return Ticket.objects.bulk_create(tickets)


def test_pagination_shape(api, l1, many):
    r = api.as_(l1).get(API)
    assert r.status_code == 200
    assert r.data["count"] == 205 and len(r.data["results"]) == 25
    assert r.data["previous"] is None and "page=2" in r.data["next"]
    r = api.as_(l1).get(API, {"page": 2, "page_size": 100})
    assert len(r.data["results"]) == 100 and r.data["previous"] and r.data["next"]
    r = api.as_(l1).get(API, {"page": 3, "page_size": 100})
    assert len(r.data["results"]) == 5 and r.data["next"] is None
    first_ids = ids(api.as_(l1).get(API, {"page_size": 10}))
    second_ids = ids(api.as_(l1).get(API, {"page_size": 10, "page": 2}))
    assert len(first_ids) == 10 and not set(first_ids) & set(second_ids)


@pytest.mark.parametrize("size", [200, 201, 500, 10**6])
def test_page_size_is_capped_at_200(api, l1, many, size):
    r = api.as_(l1).get(API, {"page_size": size})
    assert r.status_code == 200
    assert len(r.data["results"]) == 200 and r.data["count"] == 205


def test_page_past_the_end_is_404(api, l1, many):
    assert api.as_(l1).get(API, {"page": 99}).status_code == 404


def test_patch_without_if_match_is_428_naming_the_header_and_the_etag(api, l1, ticket):
    before = state(ticket)
    r = api.as_(l1).patch(turl(ticket), {"title": "blind write"}, format="json")
    assert r.status_code == 428, r.data
    assert "If-Match" in r.data["detail"] and f'"{ticket.version}"' in r.data["detail"]
    assert r.data["current_version"] == ticket.version
    assert state(ticket) == before


def test_428_does_not_reveal_an_invisible_ticket(api, customer, other_customer):
    t = TicketFactory(requester=other_customer)
    assert api.as_(customer).patch(turl(t), {"title": "x"}, format="json").status_code == 404


def test_if_match_can_be_made_optional(api, l1, ticket, settings):
    settings.HELPDESK_REQUIRE_IF_MATCH = False
    r = api.as_(l1).patch(turl(ticket), {"title": "no header"}, format="json")
    assert r.status_code == 200 and r.data["title"] == "no header"
