"""Ticket pages without a browser: who sees what, bad input, query counts, the CSP."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ApplicationFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from helpdesk.tests.pages import assert_csp_clean, inline_code
from tickets import services
from tickets.models import Comment, Kind, KnownIssue, Status, Ticket
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def users(customer, other_customer, l1, l2, l3, manager):
    return {"customer": customer, "other": other_customer, "l1": l1, "l2": l2, "l3": l3, "manager": manager}


# --- who sees what ------------------------------------------------------------------------------

AGENT_PAGES = ["/console/", "/queue/", "/known-issues/", "/console/preview/?urgency=high&impact=low"]


@pytest.mark.parametrize("path", AGENT_PAGES)
def test_agent_pages(users, path):
    assert Client().get(path).status_code == 302  # anonymous: to the login page
    assert Client().get(path)["Location"].startswith("/login/?next=")
    for role in ("customer", "other"):
        assert client_for(users[role]).get(path).status_code == 404, role
    for role in ("l1", "l2", "l3", "manager"):
        assert client_for(users[role]).get(path).status_code == 200, role


@pytest.mark.parametrize("path", ["/portal/", "/portal/new/"])
def test_portal_pages_are_for_customers(users, path):
    assert Client().get(path).status_code == 302
    assert client_for(users["customer"]).get(path).status_code == 200
    for role in ("l1", "manager"):
        assert client_for(users[role]).get(path).status_code == 404


@pytest.mark.parametrize("path", ["/known-issues/new/"])
def test_manager_pages(users, path):
    assert client_for(users["manager"]).get(path).status_code == 200
    for role in ("customer", "l1", "l2", "l3"):
        assert client_for(users[role]).get(path).status_code == 404


def test_home_sends_each_role_to_its_work(users):
    expected = {"customer": "/portal/", "l1": "/console/", "l2": "/queue/", "l3": "/queue/", "manager": "/dashboard/"}
    for role, target in expected.items():
        assert client_for(users[role]).get("/")["Location"] == target, role
    assert Client().get("/")["Location"] == "/login/"


def test_login_and_logout_through_the_pages(users):
    client = Client()
    response = client.post("/login/", {"username": users["l2"].username, "password": "pass-Word-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/queue/").status_code == 200
    assert client.get("/logout/").status_code == 405  # only POST logs out
    assert client.post("/logout/").status_code == 302
    assert client.get("/queue/").status_code == 302


def test_a_wrong_password_is_refused_with_the_form_again(users):
    response = Client().post("/login/", {"username": users["l2"].username, "password": "nope"})
    assert response.status_code == 200 and b"Please enter a correct username and password" in response.content


def test_a_customer_sees_only_own_tickets_and_no_internal_notes(users):
    mine = services.ticket_create(actor=users["customer"], title="Mine")
    theirs = services.ticket_create(actor=users["other"], title="Theirs")
    services.comment_create(ticket=mine, actor=users["l1"], body="Public answer")
    services.comment_create(ticket=mine, actor=users["l1"], body="INTERNAL-ONLY note", internal=True)
    client = client_for(users["customer"])
    page = client.get(f"/tickets/{mine.pk}/").content.decode()
    assert "Public answer" in page and "INTERNAL-ONLY" not in page
    assert "Escalate" not in page and "Claim" not in page  # no agent actions
    assert client.get(f"/tickets/{theirs.pk}/").status_code == 404
    assert client.get("/tickets/999999999/").status_code == 404
    portal = client.get("/portal/").content.decode()
    assert "Mine" in portal and "Theirs" not in portal
    # Actions on someone else's ticket: 404, nothing written.
    assert client.post(f"/tickets/{theirs.pk}/comment/", {"body": "hi"}).status_code == 404
    assert not Comment.objects.filter(ticket=theirs).exists()
    # Agent actions on their own ticket: refused by the services.
    assert client.post(f"/tickets/{mine.pk}/claim/").status_code == 403
    assert client.post(f"/tickets/{mine.pk}/comment/", {"body": "x", "internal": "on"}).status_code == 400
    assert not Comment.objects.filter(ticket=mine, author=users["customer"]).exists()


def test_an_agent_sees_internal_notes_and_actions(users):
    ticket = services.ticket_create(actor=users["customer"], title="Help")
    services.comment_create(ticket=ticket, actor=users["l1"], body="INTERNAL-ONLY note", internal=True)
    page = client_for(users["l1"]).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "INTERNAL-ONLY note" in page and "Internal note" in page
    assert 'id="claim"' in page and "Escalate with a handover" in page


# --- actions ------------------------------------------------------------------------------------


def test_claim_comment_escalate_transition_from_the_page(users):
    ticket = services.ticket_create(actor=users["customer"], title="Printer")
    client = client_for(users["l1"])
    response = client.post(f"/tickets/{ticket.pk}/claim/")
    assert response.status_code == 303 and response["Location"] == f"/tickets/{ticket.pk}/"
    assert Ticket.objects.get(pk=ticket.pk).assignee == users["l1"]
    assert client.post(f"/tickets/{ticket.pk}/comment/", {"body": "On it"}).status_code == 303
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at is not None
    response = client.post(f"/tickets/{ticket.pk}/escalate/", {"to_tier": "3", "reason": "deep"})
    assert response.status_code == 403  # L1 escalates to L2 at most
    assert Ticket.objects.get(pk=ticket.pk).tier == 1
    data = {"to_tier": "2", "reason": "Needs L2", "summary": "Printer offline", "steps_tried": "Rebooted"}
    assert client.post(f"/tickets/{ticket.pk}/escalate/", data).status_code == 303
    ticket.refresh_from_db()
    assert ticket.tier == 2 and ticket.assignee is None
    page = client_for(users["l2"]).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "Handover from L1" in page and "Printer offline" in page and "Rebooted" in page
    l2 = client_for(users["l2"])
    assert l2.post(f"/tickets/{ticket.pk}/transition/", {"status": "resolved"}).status_code == 400  # no resolution
    assert Ticket.objects.get(pk=ticket.pk).status != Status.RESOLVED
    response = l2.post(f"/tickets/{ticket.pk}/transition/", {"status": "resolved", "resolution": "Driver fixed"})
    assert response.status_code == 303 and Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_linking_to_an_incident_by_number(users):
    incident = TicketFactory(kind="incident", major=True)
    ticket = TicketFactory()
    client = client_for(users["l1"])
    assert client.post(f"/tickets/{ticket.pk}/link/", {"incident": incident.number}).status_code == 303
    assert Ticket.objects.get(pk=ticket.pk).parent_id == incident.pk
    for junk in ["HD-", "x", "HD-99999999999999999999", "-1", ""]:
        response = client.post(f"/tickets/{ticket.pk}/link/", {"incident": junk})
        assert response.status_code == 400, junk
    assert client.post(f"/tickets/{ticket.pk}/link/", {"incident": "HD-999999"}).status_code == 404


def test_the_console_creates_a_ticket_and_shows_its_number(users):
    client = client_for(users["l1"])
    data = {
        "requester_email": "new.caller@example.com",
        "title": "VPN",
        "urgency": "high",
        "impact": "high",
        "kind": "incident",
    }
    response = client.post("/console/", data)
    assert response.status_code == 302
    ticket = Ticket.objects.get(title="VPN")
    assert response["Location"] == f"/console/?created={ticket.pk}"
    assert ticket.priority == 1 and ticket.requester.email == "new.caller@example.com"
    assert ticket.requester.role == Role.CUSTOMER
    assert ticket.number in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"requester_email": "not-an-email", "title": "x", "urgency": "high", "impact": "high", "kind": "incident"},
        {"requester_email": "a@example.com", "title": "", "urgency": "high", "impact": "high", "kind": "incident"},
        {"requester_email": "a@example.com", "title": "x", "urgency": "huge", "impact": "high", "kind": "incident"},
        {
            "requester_email": "a@example.com",
            "title": "x" * 201,
            "urgency": "high",
            "impact": "high",
            "kind": "incident",
        },
        {
            "requester_email": "a@example.com",
            "title": "x",
            "urgency": "high",
            "impact": "high",
            "kind": "incident",
            "application": "99999999999999999999999",
        },
        {
            "requester_email": "a@example.com",
            "title": "x",
            "urgency": "high",
            "impact": "high",
            "kind": "incident",
            "parent": "10000000000000000000000",
        },
        {
            "requester_email": "a@example.com",
            "title": "x\x00y",
            "urgency": "high",
            "impact": "high",
            "kind": "incident",
        },
    ],
)
def test_the_console_refuses_bad_input_with_a_400_and_saves_nothing(users, data):
    response = client_for(users["l1"]).post("/console/", data)
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_console_partials_validate_their_input(users):
    client = client_for(users["l1"])
    assert client.get("/console/preview/?urgency=x&impact=high").status_code == 400
    preview = client.get("/console/preview/?urgency=high&impact=high").content.decode()
    assert "P1 critical" in preview
    assert client.get("/console/incidents/?application=abc").status_code == 400
    app = ApplicationFactory()
    incident = TicketFactory(kind="incident", major=True, application=app, title="Mail down")
    assert incident.number in client.get(f"/console/incidents/?application={app.pk}").content.decode()
    UserFactory(role=Role.CUSTOMER, email="findme@example.com")
    assert "findme@example.com" in client.get("/console/requesters/?requester_email=findm").content.decode()
    assert client.get("/console/requesters/?requester_email=" + "x" * 5000).status_code == 200


def test_console_suggestions_rank_matching_known_issues(users):
    KnownIssue.objects.create(title="Password reset link expired", resolution_steps="Send a new link")
    KnownIssue.objects.create(title="Printer offline", resolution_steps="Power-cycle")
    KnownIssue.objects.create(title="Password policy", resolution_steps="x", is_active=False)
    page = client_for(users["l1"]).get("/console/suggestions/?description=my+password+reset+fails").content.decode()
    assert "Password reset link expired" in page and "Printer offline" not in page and "Password policy" not in page


def test_queue_filters_and_bad_values(users):
    TicketFactory(tier=2, priority=1, title="Urgent one")
    TicketFactory(tier=2, priority=4, title="Slow one")
    TicketFactory(tier=1, priority=1, title="Other tier")
    client = client_for(users["l2"])
    page = client.get("/queue/?tier=2&priority=1").content.decode()
    assert "Urgent one" in page and "Slow one" not in page and "Other tier" not in page
    for junk in ["priority=9", "status=nope", "ordering=password", "q=" + "x" * 300, "assignee=someone"]:
        assert client.get(f"/queue/?tier=2&{junk}").status_code == 400, junk
    assert client.get("/queue/?tier=99&page=abc").status_code == 200  # unknown tier: own tier, bad page: last page


def test_next_ticket_never_gives_one_ticket_twice(users):
    only = TicketFactory(tier=2, priority=2)
    first = client_for(users["l2"]).post("/queue/next/", {"tier": "2"})
    assert first.status_code == 303 and first["Location"] == f"/tickets/{only.pk}/"
    second = client_for(users["manager"]).post("/queue/next/", {"tier": "2"})
    assert second.status_code == 303 and second["Location"].startswith("/queue/")
    assert Ticket.objects.get(pk=only.pk).assignee == users["l2"]
    refused = client_for(users["l1"]).post("/queue/next/", {"tier": "3"})
    assert refused.status_code == 303  # back to the queue with the reason shown


def test_known_issue_editing_by_managers(users):
    client = client_for(users["manager"])
    data = {"title": "Mailbox full", "symptoms": "Bounces", "resolution_steps": "Archive old mail", "is_active": "on"}
    assert client.post("/known-issues/new/", data).status_code == 303
    issue = KnownIssue.objects.get(title="Mailbox full")
    data["title"] = "Mailbox is full"
    assert client.post(f"/known-issues/{issue.pk}/edit/", data).status_code == 303
    assert KnownIssue.objects.get(pk=issue.pk).title == "Mailbox is full"
    assert client.post("/known-issues/new/", {"title": "", "resolution_steps": ""}).status_code == 400
    assert client.get("/known-issues/999999/edit/").status_code == 404
    assert client_for(users["l1"]).post("/known-issues/new/", data).status_code == 404
    assert KnownIssue.objects.count() == 1


# --- query counts -------------------------------------------------------------------------------


def _queue(client):
    return client.get("/queue/?tier=1")


@pytest.mark.parametrize("rows", [2, 25])
def test_the_queue_runs_a_constant_number_of_queries(users, rows, django_assert_max_num_queries):
    TicketFactory.create_batch(rows, tier=1, application=ApplicationFactory())
    client = client_for(users["l1"])
    with django_assert_max_num_queries(8):
        assert _queue(client).status_code == 200


@pytest.mark.parametrize("rows", [2, 25])
def test_the_portal_runs_a_constant_number_of_queries(users, rows, django_assert_max_num_queries):
    TicketFactory.create_batch(rows, requester=users["customer"])
    client = client_for(users["customer"])
    with django_assert_max_num_queries(6):
        assert client.get("/portal/").status_code == 200


@pytest.mark.parametrize("rows", [2, 25])
def test_the_knowledge_base_runs_a_constant_number_of_queries(users, rows, django_assert_max_num_queries):
    for i in range(rows):
        KnownIssue.objects.create(title=f"Issue {i}", resolution_steps="steps", application=ApplicationFactory())
    client = client_for(users["l1"])
    with django_assert_max_num_queries(6):
        assert client.get("/known-issues/").status_code == 200


@pytest.mark.parametrize("history", [1, 30])
def test_the_ticket_page_runs_a_constant_number_of_queries(users, history, django_assert_max_num_queries):
    ticket = services.ticket_create(actor=users["customer"], title="Busy ticket")
    for i in range(history):
        CommentFactory(ticket=ticket, author=users["l1"] if i % 2 else users["customer"], internal=bool(i % 3 == 0))
        services.ticket_update(ticket=ticket, actor=users["l1"], changes={"title": f"Busy ticket {i}"})
    for role, limit in (("l1", 14), ("customer", 8)):
        client = client_for(users[role])
        with django_assert_max_num_queries(limit):
            assert client.get(f"/tickets/{ticket.pk}/").status_code == 200


# --- the strict CSP -----------------------------------------------------------------------------


def test_pages_carry_the_csp_and_no_inline_code(users):
    ticket = services.ticket_create(
        actor=users["customer"], title="<b onmouseover=alert(1)>x</b>", description="<script>x</script>"
    )
    pages = {
        "l1": ["/console/", "/queue/", "/known-issues/", f"/tickets/{ticket.pk}/"],
        "customer": ["/portal/", "/portal/new/", f"/tickets/{ticket.pk}/"],
        "manager": ["/known-issues/new/"],
    }
    for role, paths in pages.items():
        client = client_for(users[role])
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            assert "unsafe" not in response["Content-Security-Policy"]
            assert_csp_clean(response)
    assert inline_code(Client().get("/login/").content.decode()) == []
    assert inline_code("<p>&lt;b onclick=x&gt;</p>") == []  # escaped text is not markup
    assert inline_code('<a href="javascript:x" onclick="y">') == ["a onclick=", "a href=javascript:"]
    assert inline_code('<img src="//cdn.example.com/x.png"><a href="https://example.com">ok</a>') == [
        "img loads //cdn.example.com/x.png"
    ]


# --- attachments --------------------------------------------------------------------------------


def test_a_comment_with_a_file_and_who_may_download_it(users, settings, tmp_path):
    settings.HELPDESK_ATTACHMENT_ROOT = str(tmp_path)
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = services.ticket_create(actor=users["customer"], title="Crash")
    agent = client_for(users["l1"])
    log = SimpleUploadedFile("crash.log", b"Traceback: boom\n", content_type="text/plain")
    assert agent.post(f"/tickets/{ticket.pk}/comment/", {"body": "Here is the log", "file": log}).status_code == 303
    note = SimpleUploadedFile("secret.txt", b"internal detail\n", content_type="text/plain")
    response = agent.post(f"/tickets/{ticket.pk}/comment/", {"body": "Internal", "internal": "on", "file": note})
    assert response.status_code == 303
    public = Comment.objects.get(body="Here is the log").attachments.get()
    internal = Comment.objects.get(body="Internal").attachments.get()

    customer = client_for(users["customer"])
    page = customer.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "crash.log" in page and "secret.txt" not in page
    download = customer.get(f"/api/v1/attachments/{public.pk}/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == b"Traceback: boom\n"
    assert customer.get(f"/api/v1/attachments/{internal.pk}/").status_code == 404
    assert client_for(users["other"]).get(f"/api/v1/attachments/{public.pk}/").status_code == 404


def test_a_refused_file_leaves_no_comment(users, settings, tmp_path):
    settings.HELPDESK_ATTACHMENT_ROOT = str(tmp_path)
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = services.ticket_create(actor=users["customer"], title="Crash")
    page = SimpleUploadedFile("evil.html", b"<script>alert(1)</script>", content_type="text/html")
    response = client_for(users["l1"]).post(f"/tickets/{ticket.pk}/comment/", {"body": "See file", "file": page})
    assert response.status_code == 400
    assert "evil.html" not in response.content.decode() or "not allowed" in response.content.decode().lower()
    assert not Comment.objects.filter(ticket=ticket).exists()
    assert list(tmp_path.rglob("*.*")) == [] and not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_an_incident_resolves_its_linked_tickets_with_one_message(users):
    incident = TicketFactory(kind="incident", major=True, tier=2)
    linked = [TicketFactory(tier=1) for _ in range(3)]
    for ticket in linked:
        services.ticket_update(ticket=ticket, actor=users["l1"], changes={"parent": incident})
    incident.refresh_from_db()
    engineer = client_for(users["l2"])
    assert "Resolve the linked tickets" in engineer.get(f"/tickets/{incident.pk}/").content.decode()
    assert engineer.post(f"/tickets/{incident.pk}/resolve-linked/", {"message": ""}).status_code == 400
    response = engineer.post(f"/tickets/{incident.pk}/resolve-linked/", {"message": "Payments work again."})
    assert response.status_code == 303
    for ticket in linked:
        ticket.refresh_from_db()
        assert ticket.status == Status.RESOLVED and ticket.resolution == "Payments work again."
        assert Comment.objects.filter(ticket=ticket, internal=False, body="Payments work again.").exists()
    # L1 may not work the L2 incident: refused, nothing changes.
    other = TicketFactory(tier=1)
    services.ticket_update(ticket=other, actor=users["l1"], changes={"parent": incident})
    assert client_for(users["l1"]).post(f"/tickets/{incident.pk}/resolve-linked/", {"message": "x"}).status_code == 403
    assert Ticket.objects.get(pk=other.pk).status == Status.NEW


def test_a_long_queue_is_counted_up_to_the_cap(users, monkeypatch, django_assert_max_num_queries):
    from tickets.views import queues

    monkeypatch.setattr(queues, "QUEUE_COUNT_CAP", 30)
    TicketFactory.create_batch(40, tier=1)
    client = client_for(users["l1"])
    page = client.get("/queue/?tier=1").content.decode()
    assert "Page 1 of 2 (more than 30: narrow the filters" in page
    assert client.get("/queue/?tier=1&page=2").content.decode().count('href="/tickets/') == 5  # rows 26-30
    assert "(more than" not in client.get("/queue/?tier=1&priority=1").content.decode()


def test_the_queue_filters_keep_what_was_chosen(users):
    page = client_for(users["l2"]).get("/queue/?tier=2&priority=2&assignee=none&ordering=-created_at").content.decode()
    assert '<option value="2" selected>P2</option>' in page
    assert '<option value="none" selected>Unassigned</option>' in page
    assert '<option value="-created_at" selected>Newest</option>' in page
    assert '<label for="id_priority">Priority</label>' in page


@pytest.mark.parametrize("junk", ["²", "١٢", "-1", "0", "1e3", "99999999999999999999999", " 1", "x"])
def test_id_parameters_refuse_junk_without_a_500(users, junk):
    client = client_for(users["l1"])
    assert client.get("/console/incidents/", {"application": junk}).status_code == 400
    assert client.get("/console/suggestions/", {"application": junk, "title": "printer"}).status_code == 200
    assert client.get("/console/", {"created": junk}).status_code == 200
    assert client.get("/queue/", {"tier": junk}).status_code == 200  # the agent's own tier
    assert client.post("/queue/next/", {"tier": junk}).status_code == 303
    data = {"requester_email": "a@example.com", "title": "x", "urgency": "high", "impact": "high", "kind": "incident"}
    assert client.post("/console/", {**data, "application": junk}).status_code == 400
    assert client.post("/console/", {**data, "apply": junk}).status_code == 302  # saved; nothing to apply
    ticket = Ticket.objects.get()
    assert not ticket.known_issues.exists() and ticket.status == Status.NEW


def test_applying_a_known_issue_from_the_ticket_page_checks_its_input_and_the_role(users):
    issue = KnownIssue.objects.create(title="Printer queue stuck", resolution_steps="Restart the spooler.")
    retired = KnownIssue.objects.create(title="Old", resolution_steps="x", is_active=False)
    mine = services.ticket_create(actor=users["customer"], title="Printer")
    l3_ticket = TicketFactory(tier=3)
    agent = client_for(users["l1"])
    url = f"/tickets/{mine.pk}/apply-known-issue/"
    for junk in ["", "x", "²", "0", "99999999999999999999999"]:
        assert agent.post(url, {"known_issue": junk}).status_code == 400, junk
    assert agent.post(url, {"known_issue": "999999"}).status_code == 400  # no such known issue
    assert agent.post(url, {"known_issue": retired.pk}).status_code == 400
    assert client_for(users["customer"]).post(url, {"known_issue": issue.pk}).status_code == 403
    assert client_for(users["other"]).post(url, {"known_issue": issue.pk}).status_code == 404
    assert agent.post(f"/tickets/{l3_ticket.pk}/apply-known-issue/", {"known_issue": issue.pk}).status_code == 403
    assert not Comment.objects.filter(ticket__in=[mine, l3_ticket]).exists()
    issue.refresh_from_db()
    assert issue.usage_count == 0
    assert agent.post(url, {"known_issue": issue.pk, "resolve": "on"}).status_code == 303
    assert Ticket.objects.get(pk=mine.pk).status == Status.RESOLVED
    assert agent.post(url, {"known_issue": issue.pk}).status_code == 409  # once per ticket
    issue.refresh_from_db()
    assert issue.usage_count == 1


def test_the_timeline_names_people_and_tickets_in_constant_queries(users):
    """The timeline says who got the ticket and which incident it joined, by name
    and link, never "user 5"; the names cost one query per page, not per event."""
    incident = services.ticket_create(
        actor=users["l1"], requester=users["other"], title="Mail down", kind=Kind.INCIDENT
    )
    services.ticket_update(ticket=incident, actor=users["l1"], changes={"major": True})
    pages = {}
    for history in (1, 20):
        ticket = services.ticket_create(actor=users["customer"], title=f"Cannot send {history}")
        services.ticket_update(ticket=ticket, actor=users["l1"], changes={"parent": incident})
        for i in range(history):
            services.ticket_assign(ticket=ticket, actor=users["manager"], assignee=users["l1" if i % 2 else "l2"])
        pages[history] = ticket
    client = client_for(users["l1"])
    ticket = pages[20]
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    l1, l2 = (users[r].get_full_name() or users[r].username for r in ("l1", "l2"))
    assert f"user {users['l2'].pk}" not in page and f"user {users['l1'].pk}" not in page
    assert f"Assignee nobody → {l2}" in page and f"Assignee {l2} → {l1}" in page
    assert f'Linked to the incident <a href="/tickets/{incident.pk}/">{incident.number} Mail down</a>' in page
    incident_page = client.get(f"/tickets/{incident.pk}/").content.decode()
    assert f'<a href="/tickets/{ticket.pk}/">{ticket.number} Cannot send 20</a> was linked' in incident_page
    counts = {}
    for history, ticket in pages.items():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/tickets/{ticket.pk}/").status_code == 200
        counts[history] = len(ctx.captured_queries)
    assert counts[1] == counts[20], counts
