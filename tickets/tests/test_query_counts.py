"""The ticket reads run a fixed, small number of queries whatever the data size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ApplicationFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import events
from tickets.models import Kind, Status, Ticket, TicketCc
from tickets.tests.factories import AttachmentFactory, CategoryFactory, CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/tickets/"

# Measured: list = COUNT + page SELECT (category joined) + one prefetch of the
# page's CCs (`cc`, issue 13); detail = one SELECT + its CCs;
# events = ticket SELECT + COUNT + page SELECT; comments add one prefetch of the
# page's attachments. Authentication is forced by the test client, so no session
# or token lookup is counted.
LIST_QUERIES = 3
DETAIL_QUERIES = 2
CHILD_LIST_QUERIES = {"comments/": 4, "events/": 3}


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def count_queries(client, url, params=None) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:300]
    return len(ctx.captured_queries), response


@pytest.fixture
def crowd(customer):
    """~120 tickets with categories, applications, assignees, requesters and parents."""
    categories = CategoryFactory.create_batch(4, scope_tier=2)
    apps = ApplicationFactory.create_batch(3)
    agents = [UserFactory(role=role) for role in (Role.L1, Role.L2, Role.L3)]
    requesters = [customer, *UserFactory.create_batch(4)]
    incidents = [TicketFactory(kind=Kind.INCIDENT, requester=requesters[1], application=apps[0]) for _ in range(4)]
    rows = TicketFactory.build_batch(116, requester=customer)
    for i, t in enumerate(rows):
        t.requester = requesters[i % len(requesters)]
        t.category = categories[i % len(categories)] if i % 5 else None
        t.application = apps[i % len(apps)] if i % 3 else None
        t.assignee = agents[i % len(agents)] if i % 2 else None
        t.parent = incidents[i % len(incidents)] if i % 4 == 0 else None
        t.status = [Status.NEW, Status.OPEN, Status.PENDING][i % 3]
    Ticket.objects.bulk_create(rows)
    assert Ticket.objects.count() == 120
    # Every other ticket has two CCs: the list reads them in one query for the page.
    TicketCc.objects.bulk_create(
        [TicketCc(ticket=t, email=f"cc{n}-{t.pk}@example.com") for t in Ticket.objects.all()[::2] for n in (1, 2)]
    )
    return {"customer": customer, "incidents": incidents}


@pytest.mark.parametrize("role", ["l1", "manager"])
def test_list_queries_do_not_grow_with_page_size(api, request, crowd, role, django_assert_max_num_queries):
    client = api.as_(request.getfixturevalue(role))
    small, r5 = count_queries(client, API, {"page_size": 5})
    large, r100 = count_queries(client, API, {"page_size": 100})
    assert len(r5.data["results"]) == 5 and len(r100.data["results"]) == 100
    assert any(row["needs_escalation"] for row in r100.data["results"])  # category is read
    assert sum(len(row["cc"]) for row in r100.data["results"]) == 100  # the CCs are read
    assert small == large, (small, large)
    with django_assert_max_num_queries(LIST_QUERIES):
        r = client.get(API, {"page_size": 200})
    assert len(r.data["results"]) == 120


def test_filtered_list_queries_are_constant(api, l1, crowd, django_assert_max_num_queries):
    client = api.as_(l1)
    params = {"status": "new,open", "assignee": "none", "q": "a", "ordering": "-priority"}
    small, _ = count_queries(client, API, {**params, "page_size": 5})
    large, _ = count_queries(client, API, {**params, "page_size": 100})
    assert small == large, (small, large)
    with django_assert_max_num_queries(LIST_QUERIES):
        client.get(API, {**params, "parent": crowd["incidents"][0].pk, "page_size": 200})


def test_customer_list_queries_are_constant(api, crowd, django_assert_max_num_queries):
    client = api.as_(crowd["customer"])
    small, r5 = count_queries(client, API, {"page_size": 5})
    large, r100 = count_queries(client, API, {"page_size": 100})
    assert r5.data["count"] == r100.data["count"] > 5
    assert small == large, (small, large)
    with django_assert_max_num_queries(LIST_QUERIES):
        client.get(API, {"page_size": 100})


def _grow(ticket: Ticket, author, n: int) -> None:
    """Add n public and n internal comments and 2n events to the ticket; every
    third comment has two attachments."""
    for i in range(n):
        comment = CommentFactory(ticket=ticket, author=author, internal=bool(i % 2))
        if i % 3 == 0:
            AttachmentFactory.create_batch(2, comment=comment)
        events.commented(ticket, author, comment.pk, comment.internal)
        events.record(ticket, author, "updated", before={"title": "a"}, after={"title": "b"})


@pytest.mark.parametrize("role", ["l1", "customer"])
def test_detail_queries_do_not_grow_with_history(api, request, customer, role, django_assert_max_num_queries):
    user = request.getfixturevalue(role)
    ticket = TicketFactory(requester=customer, category=CategoryFactory(), application=ApplicationFactory())
    client = api.as_(user)
    before, _ = count_queries(client, f"{API}{ticket.pk}/")
    _grow(ticket, customer, 60)
    after, r = count_queries(client, f"{API}{ticket.pk}/")
    assert r["ETag"] == f'"{ticket.version}"'
    assert before == after
    with django_assert_max_num_queries(DETAIL_QUERIES):
        client.get(f"{API}{ticket.pk}/")


@pytest.mark.parametrize("suffix", ["comments/", "events/"])
@pytest.mark.parametrize("role", ["l1", "customer"])
def test_comment_and_event_lists_are_constant(api, request, customer, suffix, role, django_assert_max_num_queries):
    client = api.as_(request.getfixturevalue(role))
    ticket = TicketFactory(requester=customer)
    _grow(ticket, customer, 3)
    small, r_small = count_queries(client, f"{API}{ticket.pk}/{suffix}", {"page_size": 100})
    _grow(ticket, customer, 80)
    large, r_large = count_queries(client, f"{API}{ticket.pk}/{suffix}", {"page_size": 100})
    assert len(r_large.data["results"]) > len(r_small.data["results"])
    assert small == large, (small, large)
    with django_assert_max_num_queries(CHILD_LIST_QUERIES[suffix]):
        r = client.get(f"{API}{ticket.pk}/{suffix}", {"page_size": 200})
    if suffix == "comments/":
        assert sum(len(row["attachments"]) for row in r.data["results"]) > 20
