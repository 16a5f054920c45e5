"""A customer learns nothing from an id (issue 11 item 11, docs/PRODUCT.md "Security rules users see"): for every id a
customer may send, a missing one and one that exists but is not theirs to see get
the same answer, byte for byte. Agents keep naming anything."""

from __future__ import annotations

import pytest

from tickets.models import Kind, Status, Ticket
from tickets.tests.factories import CategoryFactory, KnownIssueFactory, TicketFactory, if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
MISSING = 2**62  # an id no row has


@pytest.fixture
def world(customer, other_customer, l2):
    mine = TicketFactory(requester=customer, status=Status.OPEN, tier=1)
    theirs = TicketFactory(requester=other_customer, kind=Kind.INCIDENT, major=True, status=Status.OPEN, tier=1)
    return {
        "mine": mine,
        "theirs": theirs,
        "other_user": other_customer,
        "agent": l2,
        "inactive_category": CategoryFactory(is_active=False),
        "known_issue": KnownIssueFactory(),
    }


def existing(world: dict, field: str) -> int:
    """An id that exists but is not the customer's to name."""
    return {
        "requester": world["other_user"].pk,
        "assignee": world["agent"].pk,
        "parent": world["theirs"].pk,
        "category": world["inactive_category"].pk,
        "known_issue": world["known_issue"].pk,
    }[field]


# (method, url, base body, id field, status); {mine} is the customer's own ticket.
# Actions customers may not take are refused before the body is read (403).
CASES = [
    ("post", "tickets/", {"title": "Printer"}, "requester", 400),
    ("post", "tickets/", {"title": "Printer"}, "parent", 400),
    ("post", "tickets/", {"title": "Printer"}, "category", 400),
    ("patch", "tickets/{mine}/", {}, "parent", 403),
    ("patch", "tickets/{mine}/", {}, "category", 403),
    ("post", "tickets/{mine}/assign/", {}, "assignee", 403),
    ("post", "tickets/{mine}/apply-known-issue/", {}, "known_issue", 403),
]


def answer(client, world, method, url, body, field, value):
    url = V1 + url.format(mine=world["mine"].pk)
    extra = if_match(world["mine"]) if method == "patch" else {}
    response = getattr(client, method)(url, {**body, field: value}, format="json", **extra)
    return response.status_code, response.content


@pytest.mark.parametrize(("method", "url", "body", "field", "code"), CASES)
def test_missing_and_not_yours_get_the_same_answer(api, customer, world, method, url, body, field, code):
    before = list(Ticket.objects.order_by("id").values_list("id", "version", "parent_id", "category_id", "assignee_id"))
    client = api.as_(customer)

    missing = answer(client, world, method, url, body, field, MISSING)
    not_yours = answer(client, world, method, url, body, field, existing(world, field))

    assert missing == not_yours
    assert missing[0] == code
    assert str(existing(world, field)).encode() not in not_yours[1]
    assert list(Ticket.objects.order_by("id").values_list(
        "id", "version", "parent_id", "category_id", "assignee_id"
    )) == before  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["tickets/{id}/", "tickets/{id}/comments/", "tickets/{id}/events/"],
)
def test_another_customers_ticket_is_as_missing_as_a_missing_one(api, customer, world, path):
    client = api.as_(customer)
    theirs = client.get(V1 + path.format(id=world["theirs"].pk))
    missing = client.get(V1 + path.format(id=MISSING))
    assert (theirs.status_code, theirs.content) == (missing.status_code, missing.content) == (404, missing.content)


@pytest.mark.parametrize("field", ["parent", "requester"])
def test_list_filters_on_other_ids_look_empty_either_way(api, customer, world, field):
    client = api.as_(customer)
    value = world["theirs"].pk if field == "parent" else world["other_user"].pk
    assert client.get(f"{V1}tickets/", {field: value}).content == client.get(f"{V1}tickets/", {field: MISSING}).content


def test_customers_still_name_themselves_and_active_categories(api, customer):
    category = CategoryFactory(is_active=True)
    response = api.as_(customer).post(
        f"{V1}tickets/", {"title": "Printer", "requester": customer.pk, "category": category.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["requester"], response.json()["category"]) == (customer.pk, category.pk)


def test_agents_still_name_any_requester_category_and_incident(api, l1, world):
    response = api.as_(l1).post(
        f"{V1}tickets/",
        {
            "title": "Printer",
            "requester": world["other_user"].pk,
            "category": world["inactive_category"].pk,
            "parent": world["theirs"].pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["parent"] == world["theirs"].pk


def test_portal_form_answers_alike_for_a_missing_application(client, customer):
    """The portal lists every application, so none is hidden; a missing one is the
    form's usual "not one of the choices", never a 500 or a different page."""
    client.force_login(customer)
    first = client.post("/portal/new/", {"title": "Printer", "application": MISSING})
    second = client.post("/portal/new/", {"title": "Printer", "application": MISSING + 1})
    assert first.status_code == second.status_code == 400
    assert first.context["form"].errors == second.context["form"].errors
    assert Ticket.objects.count() == 0
