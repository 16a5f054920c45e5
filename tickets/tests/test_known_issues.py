"""Known issues (docs/PRODUCT.md "Known issues", docs/API.md "Tickets"): the knowledge base API, its search, and applying one to a ticket."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ApplicationFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import search, services
from tickets.events import EventKind
from tickets.models import Comment, KnownIssue, KnownIssueLink, Status, Ticket, TicketEvent
from tickets.tests.factories import CategoryFactory, KnownIssueFactory, TicketFactory, if_match

pytestmark = pytest.mark.django_db

KI = "/api/v1/known-issues/"
TICKETS = "/api/v1/tickets/"
HUGE = "x" * 1_000_000
BIG_ID = 10**30
NUL = "bad\x00value"
KI_FIELDS = {
    "id",
    "title",
    "symptoms",
    "resolution_steps",
    "application",
    "category",
    "usage_count",
    "is_active",
    "created_at",
    "updated_at",
    "version",
}
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search needs PostgreSQL")


def apply_url(ticket: Ticket | int) -> str:
    return f"{TICKETS}{ticket.pk if isinstance(ticket, Ticket) else ticket}/apply-known-issue/"


def ids(response) -> list[int]:
    return [row["id"] for row in response.data["results"]]


def ki_rows() -> list[tuple]:
    return list(
        KnownIssue.objects.order_by("id").values_list(
            "id", "title", "symptoms", "resolution_steps", "application_id", "category_id", "usage_count", "is_active"
        )
    )


def ticket_state(ticket: Ticket) -> dict:
    """Everything applying a known issue could change."""
    fresh = Ticket.objects.get(pk=ticket.pk)
    return {
        "version": fresh.version,
        "status": fresh.status,
        "resolution": fresh.resolution,
        "first_responded_at": fresh.first_responded_at,
        "comments": Comment.objects.filter(ticket=fresh).count(),
        "events": TicketEvent.objects.filter(ticket=fresh).count(),
        "links": KnownIssueLink.objects.filter(ticket=fresh).count(),
        "usage": list(KnownIssue.objects.order_by("id").values_list("usage_count", flat=True)),
    }


@pytest.fixture
def vpn():
    return KnownIssueFactory(
        title="VPN drops every few minutes",
        symptoms="The client disconnects after the laptop wakes from sleep.",
        resolution_steps="1. Update the VPN client to 5.2.\n2. Disable power saving on the network adapter.",
    )


@pytest.fixture
def ticket(customer):
    return TicketFactory(requester=customer, tier=1)


# --- the knowledge base API -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_agents_read_known_issues(api, request, role, vpn):
    client = api.as_(request.getfixturevalue(role))
    r = client.get(KI)
    assert r.status_code == 200
    assert set(r.data) == {"count", "next", "previous", "results"}
    assert [set(row) for row in r.data["results"]] == [KI_FIELDS]
    r = client.get(f"{KI}{vpn.pk}/")
    assert r.status_code == 200 and r.data["title"] == vpn.title and r.data["usage_count"] == 0


def test_customers_cannot_read_the_knowledge_base(api, customer, vpn):
    assert api.as_(customer).get(KI).status_code == 403
    assert api.as_(customer).get(f"{KI}{vpn.pk}/").status_code == 403
    assert api.as_(customer).get(KI, {"q": "vpn"}).status_code == 403


def test_anonymous_gets_401(api, vpn):
    before = ki_rows()
    assert api.as_(None).get(KI).status_code == 401
    assert api.as_(None).post(KI, {"title": "x", "resolution_steps": "y"}, format="json").status_code == 401
    assert api.as_(None).delete(f"{KI}{vpn.pk}/").status_code == 401
    assert ki_rows() == before


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3"])
def test_only_managers_write_known_issues(api, request, role, vpn):
    client = api.as_(request.getfixturevalue(role))
    before = ki_rows()
    assert client.post(KI, {"title": "New", "resolution_steps": "Do it"}, format="json").status_code == 403
    assert client.patch(f"{KI}{vpn.pk}/", {"title": "Changed"}, format="json").status_code == 403
    assert client.put(f"{KI}{vpn.pk}/", {"title": "Changed", "resolution_steps": "x"}, format="json").status_code == 403
    assert client.delete(f"{KI}{vpn.pk}/").status_code == 403
    assert ki_rows() == before


@pytest.mark.parametrize("role", ["manager", "admin_user"])
def test_managers_create_change_and_delete(api, request, role):
    client = api.as_(request.getfixturevalue(role))
    app, category = ApplicationFactory(), CategoryFactory()
    body = {
        "title": "  Password reset loops  ",
        "symptoms": "The reset link says it expired.",
        "resolution_steps": "Clear the browser cache, then request a new link.",
        "application": app.pk,
        "category": category.pk,
        "usage_count": 99,  # read-only: ignored
    }
    r = client.post(KI, body, format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == KI_FIELDS
    assert r.data["title"] == "Password reset loops"  # trimmed
    assert (r.data["application"], r.data["category"], r.data["usage_count"], r.data["is_active"]) == (
        app.pk,
        category.pk,
        0,
        True,
    )
    kid = r.data["id"]
    r = client.patch(f"{KI}{kid}/", {"is_active": False, "category": None}, format="json", **if_match(kid, KnownIssue))
    assert r.status_code == 200 and r.data["is_active"] is False and r.data["category"] is None
    r = client.put(f"{KI}{kid}/", {"title": "Renamed", "resolution_steps": "New steps"}, format="json", **if_match(kid, KnownIssue))
    assert r.status_code == 200 and r.data["title"] == "Renamed" and r.data["application"] == app.pk
    assert client.delete(f"{KI}{kid}/").status_code == 204
    assert not KnownIssue.objects.filter(pk=kid).exists()


def test_an_applied_known_issue_cannot_be_deleted_only_retired(api, manager, l1, ticket, vpn):
    services.known_issue_apply(ticket=ticket, actor=l1, known_issue=vpn)
    r = api.as_(manager).delete(f"{KI}{vpn.pk}/")
    assert r.status_code == 409 and r.data["detail"]
    assert KnownIssue.objects.filter(pk=vpn.pk).exists()
    r = api.as_(manager).patch(f"{KI}{vpn.pk}/", {"is_active": False}, format="json", **if_match(vpn))
    assert r.status_code == 200 and r.data["is_active"] is False
    assert r.data["usage_count"] == 1  # an edit keeps the count


KI_JUNK = [
    {},
    {"title": "x"},
    {"resolution_steps": "x"},
    {"title": None, "resolution_steps": "x"},
    {"title": "", "resolution_steps": "x"},
    {"title": "   ", "resolution_steps": "x"},
    {"title": "x" * 201, "resolution_steps": "x"},
    {"title": NUL, "resolution_steps": "x"},
    {"title": ["x"], "resolution_steps": "x"},
    {"title": "x", "resolution_steps": ""},
    {"title": "x", "resolution_steps": "   "},
    {"title": "x", "resolution_steps": None},
    {"title": "x", "resolution_steps": HUGE},
    {"title": "x", "resolution_steps": NUL},
    {"title": "x", "resolution_steps": {"a": 1}},
    {"title": "x", "resolution_steps": "y", "symptoms": HUGE},
    {"title": "x", "resolution_steps": "y", "symptoms": NUL},
    {"title": "x", "resolution_steps": "y", "application": BIG_ID},
    {"title": "x", "resolution_steps": "y", "application": -1},
    {"title": "x", "resolution_steps": "y", "application": "abc"},
    {"title": "x", "resolution_steps": "y", "application": True},
    {"title": "x", "resolution_steps": "y", "application": 987654321},
    {"title": "x", "resolution_steps": "y", "application": [1]},
    {"title": "x", "resolution_steps": "y", "category": 2**63},
    {"title": "x", "resolution_steps": "y", "category": 987654321},
    {"title": "x", "resolution_steps": "y", "category": {"id": 1}},
    {"title": "x", "resolution_steps": "y", "is_active": "maybe"},
    {"title": "x", "resolution_steps": "y", "is_active": None},
]


@pytest.mark.parametrize("body", KI_JUNK, ids=[str(b)[:50] for b in KI_JUNK])
def test_junk_known_issues_are_400_and_change_nothing(api, manager, vpn, body):
    before = ki_rows()
    r = api.as_(manager).post(KI, body, format="json")
    assert r.status_code == 400, r.data
    assert isinstance(r.data, dict) and r.data
    assert ki_rows() == before


PATCH_JUNK = [
    {"title": None},
    {"title": ""},
    {"title": NUL},
    {"resolution_steps": "  "},
    {"resolution_steps": HUGE},
    {"application": BIG_ID},
    {"category": "abc"},
    {"is_active": "sometimes"},
    {"title": "fine", "category": 987654321},
]


@pytest.mark.parametrize("body", PATCH_JUNK, ids=[str(b)[:50] for b in PATCH_JUNK])
def test_junk_known_issue_patches_are_400_and_change_nothing(api, manager, vpn, body):
    before = ki_rows()
    r = api.as_(manager).patch(f"{KI}{vpn.pk}/", body, format="json", **if_match(vpn))
    assert r.status_code == 400, r.data
    assert set(r.data) <= set(body) and r.data
    assert ki_rows() == before


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', "null"])
def test_malformed_bodies_are_400(api, manager, raw):
    r = api.as_(manager).post(KI, data=raw, content_type="application/json")
    assert r.status_code == 400
    assert not KnownIssue.objects.exists()


@pytest.mark.parametrize("pk", [str(BIG_ID), "abc", "-1", str(2**63), "1.5"])
def test_junk_known_issue_ids_are_404(api, manager, vpn, pk):
    before = ki_rows()
    client = api.as_(manager)
    assert client.get(f"{KI}{pk}/").status_code == 404
    assert client.patch(f"{KI}{pk}/", {"title": "x"}, format="json").status_code == 404
    assert client.delete(f"{KI}{pk}/").status_code == 404
    assert ki_rows() == before


# --- list filters and query counts ------------------------------------------------------------------


def test_list_filters(api, l1, l2, customer):
    app, other_app = ApplicationFactory(), ApplicationFactory()
    category = CategoryFactory()
    a = KnownIssueFactory(application=app, category=category)
    b = KnownIssueFactory(application=app)
    c = KnownIssueFactory(application=other_app, is_active=False)
    d = KnownIssueFactory(category=category)
    ticket = TicketFactory(requester=customer)
    services.known_issue_apply(ticket=ticket, actor=l2, known_issue=b)
    services.known_issue_apply(ticket=ticket, actor=l2, known_issue=d)

    def got(params):
        r = api.as_(l1).get(KI, params)
        assert r.status_code == 200, r.data
        return set(ids(r))

    assert got({}) == {a.pk, b.pk, c.pk, d.pk}
    assert got({"application": app.pk}) == {a.pk, b.pk}
    assert got({"category": category.pk}) == {a.pk, d.pk}
    assert got({"application": app.pk, "category": category.pk}) == {a.pk}
    assert got({"is_active": "false"}) == {c.pk}
    assert got({"ticket": ticket.pk}) == {b.pk, d.pk}
    assert got({"application": 10**9}) == set()
    rows = api.as_(l1).get(KI, {"ordering": "-usage_count"}).data["results"]
    assert [row["usage_count"] for row in rows] == [1, 1, 0, 0]


@pytest.mark.parametrize(
    "params",
    [
        {"application": "abc"},
        {"application": BIG_ID},
        {"category": "-1"},
        {"category": str(2**63)},
        {"is_active": "maybe"},
        {"ticket": "x"},
        {"q": NUL},
        {"q": "x" * 201},
        {"ordering": "bogus"},
        {"ordering": "application__name"},
    ],
)
def test_junk_list_params_are_400(api, l1, vpn, params):
    r = api.as_(l1).get(KI, params)
    assert r.status_code == 400, r.content
    assert set(r.json()) == set(params)


def test_list_is_paginated(api, l1):
    KnownIssue.objects.bulk_create(KnownIssueFactory.build_batch(30))
    r = api.as_(l1).get(KI, {"page_size": 10})
    assert r.data["count"] == 30 and len(r.data["results"]) == 10 and r.data["next"]
    titles = [row["title"] for row in api.as_(l1).get(KI, {"page_size": 200}).data["results"]]
    assert titles == sorted(titles)  # default order: title


# Measured: COUNT + page SELECT, with or without a search.
KI_LIST_QUERIES = 2


@pytest.mark.parametrize("params", [{}, {"q": "printer"}, {"application": 1, "is_active": "true", "q": "printer toner"}])
def test_list_query_count_is_constant(api, l1, params, django_assert_max_num_queries):
    app = ApplicationFactory(pk=1)
    rows = KnownIssueFactory.build_batch(120)
    for i, row in enumerate(rows):
        row.title = f"Printer {i} out of toner" if i % 2 else f"Scanner {i}"
        row.application = app if i % 3 else None
        row.category = CategoryFactory() if i % 40 == 0 else None
    KnownIssue.objects.bulk_create(rows)
    client = api.as_(l1)

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(KI, {**params, "page_size": page_size})
        assert r.status_code == 200 and r.data["count"] >= 5
        return len(ctx.captured_queries)

    assert count(5) == count(100)
    with django_assert_max_num_queries(KI_LIST_QUERIES):
        client.get(KI, {**params, "page_size": 200})


# --- search ------------------------------------------------------------------------------------------


@pytest.fixture
def kb():
    return {
        "vpn": KnownIssueFactory(
            title="VPN drops",
            symptoms="Disconnects after sleep",
            resolution_steps="Update the client",
        ),
        "password": KnownIssueFactory(
            title="Password expired",
            symptoms="Login refused with an expiry message",
            resolution_steps="Reset the passwords in the self-service portal",
        ),
        "printer": KnownIssueFactory(
            title="Printer offline",
            symptoms="Jobs stay queued",
            resolution_steps="Restart the spooler; if the VPN is on, reconnect",
        ),
    }


def found(api, user, q, **params) -> list[int]:
    r = api.as_(user).get(KI, {"q": q, **params})
    assert r.status_code == 200, r.data
    return ids(r)


@postgres_only
def test_search_covers_title_symptoms_and_steps_with_prefixes_and_stems(api, l1, kb):
    assert found(api, l1, "spooler") == [kb["printer"].pk]  # steps
    assert found(api, l1, "queued jobs") == [kb["printer"].pk]  # symptoms, any word order
    assert found(api, l1, "passw") == [kb["password"].pk]  # a prefix while typing
    assert found(api, l1, "PASSWORD") == [kb["password"].pk]  # "passwords" in the steps stems the same
    assert found(api, l1, "disconnecting") == [kb["vpn"].pk]  # stemmed
    assert found(api, l1, "vpn printer") == [kb["printer"].pk]  # every word must match
    assert found(api, l1, "nothing like this") == []


@postgres_only
def test_search_ranks_a_title_match_above_a_steps_match(api, l1, kb):
    assert found(api, l1, "vpn") == [kb["vpn"].pk, kb["printer"].pk]


@postgres_only
@pytest.mark.parametrize(
    "q", ["a & b", "vpn | printer", "!vpn", "vpn:*", "(vpn", "'", "\\", "<->", "vpn & !", "%", "___", "*:*"]
)
def test_search_syntax_in_input_is_plain_text_never_an_error(api, l1, kb, q):
    r = api.as_(l1).get(KI, {"q": q})
    assert r.status_code == 200
    words = search.search_words(q)
    if "vpn" in words and len(words) == 1:
        assert kb["vpn"].pk in ids(r)
    if not words:
        assert r.data["count"] == 0


@postgres_only
def test_search_combines_with_filters(api, l1, kb):
    app = ApplicationFactory()
    KnownIssue.objects.filter(pk=kb["printer"].pk).update(application=app)
    assert found(api, l1, "vpn", application=app.pk) == [kb["printer"].pk]
    assert found(api, l1, "vpn", ordering="title") == [kb["printer"].pk, kb["vpn"].pk]


@postgres_only
def test_search_uses_the_gin_index(kb):
    qs = search.known_issues_matching(KnownIssue.objects.all(), "vpn")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = qs.explain()
    assert "known_issue_search" in plan, plan


def test_fallback_search_without_postgres_matches_every_word_case_insensitively(api, l1, kb, monkeypatch):
    monkeypatch.setattr(search, "full_text_available", lambda db: False)
    assert found(api, l1, "SPOOLER") == [kb["printer"].pk]
    assert found(api, l1, "vpn reconnect") == [kb["printer"].pk]
    assert sorted(found(api, l1, "vpn")) == sorted([kb["vpn"].pk, kb["printer"].pk])
    assert found(api, l1, "%") == []
    assert found(api, l1, "nothing") == []


# --- apply ---------------------------------------------------------------------------------------------


def test_l1_applies_a_known_issue(api, l1, ticket, vpn):
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["id"] == ticket.pk and r.data["status"] == "new"
    assert r["ETag"] == f'"{r.data["version"]}"' and r.data["version"] > ticket.version
    comment = Comment.objects.get(ticket=ticket)
    assert (comment.body, comment.internal, comment.author_id) == (vpn.resolution_steps, False, l1.pk)
    assert r.data["first_responded_at"] is not None  # through the comment service
    link = KnownIssueLink.objects.get(ticket=ticket)
    assert (link.known_issue_id, link.applied_by_id, link.comment_id) == (vpn.pk, l1.pk, comment.pk)
    assert list(ticket.known_issues.all()) == [vpn]
    assert KnownIssue.objects.get(pk=vpn.pk).usage_count == 1
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    assert [e.kind for e in events] == [EventKind.COMMENTED, EventKind.KNOWN_ISSUE_APPLIED]
    assert events[1].actor_id == l1.pk
    assert events[1].data == {"known_issue": vpn.pk, "title": vpn.title, "comment": comment.pk, "resolve": False}


def test_apply_with_resolve_resolves_with_the_steps(api, l1, ticket, vpn):
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk, "resolve": True}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["status"] == "resolved" and r.data["resolved_at"] is not None
    assert r["ETag"] == f'"{r.data["version"]}"'
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.resolution == vpn.resolution_steps
    assert stored.version == r.data["version"]
    kinds = list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))
    assert kinds == [EventKind.COMMENTED, EventKind.KNOWN_ISSUE_APPLIED, EventKind.STATUS_CHANGED]
    status_event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.STATUS_CHANGED)
    assert status_event.data == {
        "before": {"status": "new"},
        "after": {"status": "resolved"},
        "resolution": vpn.resolution_steps,
    }
    assert KnownIssue.objects.get(pk=vpn.pk).usage_count == 1


def test_resolve_from_pending_and_open(api, l1, customer, vpn):
    for status in (Status.OPEN, Status.PENDING):
        t = TicketFactory(requester=customer, status=status, assignee=l1)
        r = api.as_(l1).post(apply_url(t), {"known_issue": vpn.pk, "resolve": "true"}, format="json")
        assert r.status_code == 200, r.data
        assert r.data["status"] == "resolved"
    assert KnownIssue.objects.get(pk=vpn.pk).usage_count == 2


def test_applying_the_same_known_issue_twice_is_409_and_changes_nothing(api, l1, l2, ticket, vpn):
    assert api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json").status_code == 200
    before = ticket_state(ticket)
    for user, body in ((l1, {"known_issue": vpn.pk}), (l2, {"known_issue": vpn.pk, "resolve": True})):
        r = api.as_(user).post(apply_url(ticket), body, format="json")
        assert r.status_code == 409, r.data
        assert r.data["known_issue"] == vpn.pk and r.data["applied_at"] and "already applied" in r.data["detail"]
        assert ticket_state(ticket) == before
    assert before["usage"] == [1]


def test_a_retried_apply_and_resolve_says_it_was_already_applied(api, l1, ticket, vpn):
    body = {"known_issue": vpn.pk, "resolve": True}
    assert api.as_(l1).post(apply_url(ticket), body, format="json").status_code == 200
    before = ticket_state(ticket)
    r = api.as_(l1).post(apply_url(ticket), body, format="json")
    assert r.status_code == 409 and "already applied" in r.data["detail"]
    assert ticket_state(ticket) == before
    other = KnownIssueFactory()
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": other.pk}, format="json")
    assert r.status_code == 409 and "resolved" in r.data["detail"]  # a new one on a resolved ticket


def test_several_known_issues_on_one_ticket(api, l1, ticket, vpn):
    other = KnownIssueFactory()
    assert api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json").status_code == 200
    assert api.as_(l1).post(apply_url(ticket), {"known_issue": other.pk}, format="json").status_code == 200
    assert set(ticket.known_issues.all()) == {vpn, other}
    assert Comment.objects.filter(ticket=ticket).count() == 2
    assert list(KnownIssue.objects.order_by("id").values_list("usage_count", flat=True)) == [1, 1]


def test_usage_counts_once_per_ticket(l1, customer, vpn):
    tickets = TicketFactory.create_batch(3, requester=customer)
    for t in tickets:
        services.known_issue_apply(ticket=t, actor=l1, known_issue=vpn)
    vpn.refresh_from_db()
    assert vpn.usage_count == 3
    assert vpn.links.count() == 3


@pytest.mark.parametrize(
    ("role", "tier", "code"),
    [
        ("l1", 1, 200),
        ("l1", 2, 403),
        ("l1", 3, 403),
        ("l2", 2, 200),
        ("l2", 3, 403),
        ("l3", 3, 200),
        ("manager", 3, 200),
        ("admin_user", 2, 200),
        ("customer", 1, 403),  # their own ticket: visible, not theirs to work
    ],
)
def test_apply_follows_the_tiers(api, request, role, tier, code, vpn):
    user = request.getfixturevalue(role)
    t = TicketFactory(tier=tier, requester=user if role == "customer" else UserFactory())
    before = ticket_state(t)
    r = api.as_(user).post(apply_url(t), {"known_issue": vpn.pk, "resolve": True}, format="json")
    assert r.status_code == code, r.data
    if code == 200:
        assert r.data["status"] == "resolved"
    else:
        assert ticket_state(t) == before


def test_another_customers_ticket_is_404_like_a_missing_one(api, customer, other_customer, vpn):
    foreign = TicketFactory(requester=other_customer)
    before = ticket_state(foreign)
    r = api.as_(customer).post(apply_url(foreign), {"known_issue": vpn.pk}, format="json")
    missing = api.as_(customer).post(apply_url(10**6), {"known_issue": vpn.pk}, format="json")
    assert r.status_code == missing.status_code == 404
    assert r.data == missing.data
    assert ticket_state(foreign) == before


def test_anonymous_apply_is_401(api, ticket, vpn):
    before = ticket_state(ticket)
    assert api.as_(None).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json").status_code == 401
    assert ticket_state(ticket) == before


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_done_tickets_are_409(api, l1, customer, vpn, status):
    t = TicketFactory(requester=customer, status=status)
    before = ticket_state(t)
    r = api.as_(l1).post(apply_url(t), {"known_issue": vpn.pk}, format="json")
    assert r.status_code == 409, r.data
    assert ticket_state(t) == before


def test_a_retired_known_issue_is_400(api, l1, ticket, vpn):
    KnownIssue.objects.filter(pk=vpn.pk).update(is_active=False)
    before = ticket_state(ticket)
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json")
    assert r.status_code == 400 and "known_issue" in r.data
    assert ticket_state(ticket) == before


APPLY_JUNK = [
    {},
    {"resolve": True},
    {"known_issue": None},
    {"known_issue": "abc"},
    {"known_issue": "1\x00"},
    {"known_issue": BIG_ID},
    {"known_issue": 2**63},
    {"known_issue": -1},
    {"known_issue": 987654321},
    {"known_issue": True},
    {"known_issue": 1.5},
    {"known_issue": [1]},
    {"known_issue": {"id": 1}},
    {"known_issue": "{vpn}", "resolve": "maybe"},
    {"known_issue": "{vpn}", "resolve": None},
    {"known_issue": "{vpn}", "resolve": [True]},
    {"known_issue": "{vpn}", "resolve": 5},
]


@pytest.mark.parametrize("body", APPLY_JUNK, ids=[str(b)[:40] for b in APPLY_JUNK])
def test_junk_apply_bodies_are_400_and_change_nothing(api, l1, ticket, vpn, body):
    body = {k: (vpn.pk if v == "{vpn}" else v) for k, v in body.items()}
    before = ticket_state(ticket)
    r = api.as_(l1).post(apply_url(ticket), body, format="json")
    assert r.status_code == 400, r.data
    assert isinstance(r.data, dict) and r.data
    assert ticket_state(ticket) == before


@pytest.mark.parametrize("raw", ["{not json", "[1]", "42", "null", '"x"'])
def test_malformed_apply_bodies_are_400(api, l1, ticket, raw):
    before = ticket_state(ticket)
    r = api.as_(l1).post(apply_url(ticket), data=raw, content_type="application/json")
    assert r.status_code == 400
    assert ticket_state(ticket) == before


@pytest.mark.parametrize("pk", [str(BIG_ID), "abc", "-1", str(2**63), "1.5", "9" * 400])
def test_junk_ticket_ids_are_404(api, l1, vpn, pk):
    before = list(KnownIssue.objects.values_list("usage_count", flat=True))
    r = api.as_(l1).post(f"{TICKETS}{pk}/apply-known-issue/", {"known_issue": vpn.pk}, format="json")
    assert r.status_code == 404
    assert list(KnownIssue.objects.values_list("usage_count", flat=True)) == before
    assert not Comment.objects.exists()


def test_if_match(api, l1, ticket, vpn):
    other = KnownIssueFactory()
    before = ticket_state(ticket)
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk}, format="json", HTTP_IF_MATCH='"99"')
    assert r.status_code == 412
    assert ticket_state(ticket) == before
    r = api.as_(l1).post(
        apply_url(ticket), {"known_issue": vpn.pk}, format="json", HTTP_IF_MATCH=f'"{ticket.version}"'
    )
    assert r.status_code == 200
    stale = api.as_(l1).post(
        apply_url(ticket), {"known_issue": other.pk}, format="json", HTTP_IF_MATCH=f'"{ticket.version}"'
    )
    assert stale.status_code == 412
    r = api.as_(l1).post(apply_url(ticket), {"known_issue": other.pk}, format="json", HTTP_IF_MATCH=r["ETag"])
    assert r.status_code == 200


def test_customer_sees_the_posted_steps_but_not_the_internal_link_event(api, l1, customer, ticket, vpn):
    api.as_(l1).post(apply_url(ticket), {"known_issue": vpn.pk, "resolve": True}, format="json")
    comments = api.as_(customer).get(f"{TICKETS}{ticket.pk}/comments/").data["results"]
    assert [c["body"] for c in comments] == [vpn.resolution_steps]
    kinds = [e["kind"] for e in api.as_(customer).get(f"{TICKETS}{ticket.pk}/events/").data["results"]]
    assert kinds == [EventKind.COMMENTED, EventKind.STATUS_CHANGED]


def test_apply_is_in_the_schema(api):
    schema = api.as_(None).get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/known-issues/" in schema["paths"]
    assert "/api/v1/known-issues/{id}/" in schema["paths"]
    apply = schema["paths"]["/api/v1/tickets/{id}/apply-known-issue/"]["post"]
    assert set(apply["responses"]) >= {"200", "409", "412"}
    body = apply["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"known_issue", "resolve"}
    params = {p["name"] for p in schema["paths"]["/api/v1/known-issues/"]["get"]["parameters"]}
    assert {"q", "application", "category", "is_active", "ticket", "page", "page_size"} <= params


# --- admin -------------------------------------------------------------------------------------------


def test_managers_edit_known_issues_in_the_admin(client, manager, kb):
    client.force_login(manager)
    r = client.get("/admin/tickets/knownissue/", {"q": "spooler"})
    assert r.status_code == 200
    assert list(r.context["cl"].result_list) == [kb["printer"]]
    r = client.post(
        "/admin/tickets/knownissue/add/",
        {"title": "Teams no sound", "symptoms": "", "resolution_steps": "Pick the headset", "is_active": "on"},
    )
    assert r.status_code == 302, r.content[:1000]
    created = KnownIssue.objects.get(title="Teams no sound")
    assert created.usage_count == 0 and created.is_active
    index = client.get("/admin/")
    assert "/admin/tickets/knownissue/" in index.content.decode()


def test_agents_below_manager_cannot_use_the_known_issue_admin(client, vpn):
    staff_l2 = UserFactory(role=Role.L2, is_staff=True)
    client.force_login(staff_l2)
    assert client.get("/admin/tickets/knownissue/").status_code == 403
    assert client.post(f"/admin/tickets/knownissue/{vpn.pk}/delete/", {"post": "yes"}).status_code == 403
    assert KnownIssue.objects.filter(pk=vpn.pk).exists()
