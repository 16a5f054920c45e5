"""The ticket page's e-mail parts (issue 13): the CC box and its actions, the
requester's bounce and its "clear", "Follows"/"Followed by", comments "via e-mail";
keyboard-usable forms, the strict CSP, constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk.models import User
from helpdesk.tests.pages import assert_csp_clean
from tickets import services
from tickets.models import EventKind, Status, Ticket, TicketCc, TicketEvent, Via

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ccs(ticket: Ticket) -> list[str]:
    return list(TicketCc.objects.filter(ticket_id=ticket.pk).order_by("id").values_list("email", flat=True))


def version(ticket: Ticket) -> int:
    return Ticket.objects.get(pk=ticket.pk).version


@pytest.fixture
def ticket(customer):
    return services.ticket_create(actor=customer, title="Printer jams")


# --- CCs ------------------------------------------------------------------------------------------


def test_an_agent_adds_and_removes_ccs_from_the_page(ticket, l1):
    client = client_for(l1)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="cc-heading"' in page and "No one is copied." in page
    assert '<label for="id_cc">Add a CC address</label>' in page  # a labelled field, reachable by Tab
    response = client.post(f"/tickets/{ticket.pk}/cc/add/", {"cc": " Boss@Example.com", "version": version(ticket)})
    assert response.status_code == 303 and response["Location"] == f"/tickets/{ticket.pk}/"
    client.post(f"/tickets/{ticket.pk}/cc/add/", {"cc": "ops@example.com", "version": version(ticket)})
    assert ccs(ticket) == ["boss@example.com", "ops@example.com"]
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'aria-label="Remove boss@example.com"' in page
    assert "CC added boss@example.com" in page  # the timeline sentence
    response = client.post(f"/tickets/{ticket.pk}/cc/remove/", {"cc": "boss@example.com", "version": version(ticket)})
    assert response.status_code == 303
    assert ccs(ticket) == ["ops@example.com"]
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CC_CHANGED).count() == 3


@pytest.mark.parametrize(
    ("cc", "status"),
    [("not an address", 400), ("a\x00@example.com", 400), ("", 400), ("x" * 400 + "@example.com", 400)],
)
def test_bad_addresses_show_the_page_with_the_error(ticket, l1, cc, status):
    before = version(ticket)
    response = client_for(l1).post(f"/tickets/{ticket.pk}/cc/add/", {"cc": cc, "version": before})
    assert response.status_code == status
    page = response.content.decode()
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert ccs(ticket) == [] and version(ticket) == before


def test_a_stale_page_does_not_overwrite_the_list(ticket, l1, l2):
    shown = version(ticket)
    client_for(l2).post(f"/tickets/{ticket.pk}/cc/add/", {"cc": "first@example.com", "version": shown})
    response = client_for(l1).post(f"/tickets/{ticket.pk}/cc/add/", {"cc": "second@example.com", "version": shown})
    assert response.status_code == 412
    assert "changed since version" in response.content.decode()
    assert ccs(ticket) == ["first@example.com"]
    response = client_for(l1).post(f"/tickets/{ticket.pk}/cc/add/", {"cc": "second@example.com", "version": "x"})
    assert response.status_code == 400


def test_who_may_change_ccs_on_the_page(ticket, customer, other_customer, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["boss@example.com"])
    Ticket.objects.filter(pk=ticket.pk).update(tier=2)
    data = {"cc": "new@example.com", "version": version(ticket)}
    assert client_for(customer).post(f"/tickets/{ticket.pk}/cc/add/", data).status_code == 403
    assert client_for(other_customer).post(f"/tickets/{ticket.pk}/cc/add/", data).status_code == 404
    assert client_for(l1).post(f"/tickets/{ticket.pk}/cc/remove/", data).status_code == 403
    assert Client().post(f"/tickets/{ticket.pk}/cc/add/", data).status_code == 302
    assert ccs(ticket) == ["boss@example.com"]
    # The requester reads the list; an agent below the tier reads it too, without the forms.
    for user in (customer, l1):
        page = client_for(user).get(f"/tickets/{ticket.pk}/").content.decode()
        assert 'id="ticket-cc">boss@example.com<' in page
        assert "cc/add/" not in page and "cc/remove/" not in page


def test_a_closed_ticket_shows_its_ccs_without_the_forms(ticket, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["boss@example.com"])
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    page = client_for(l1).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "boss@example.com" in page and "cc/add/" not in page
    data = {"cc": "new@example.com", "version": version(ticket)}
    assert client_for(l1).post(f"/tickets/{ticket.pk}/cc/add/", data).status_code == 409


# --- the requester's bounce -----------------------------------------------------------------------


def test_agents_see_the_bounce_and_clear_it(ticket, customer, l1):
    User.objects.filter(pk=customer.pk).update(
        email_bouncing_since=timezone.now(), email_bounce_reason="5.1.1 on 2026-12-07"
    )
    page = client_for(customer).get(f"/tickets/{ticket.pk}/").content.decode()
    assert "requester-bounce" not in page  # shown to agents only
    assert client_for(customer).post(f"/tickets/{ticket.pk}/requester-bounce/clear/").status_code == 403
    page = client_for(l1).get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="requester-bounce"' in page and "5.1.1 on 2026-12-07" in page and 'id="bounce-clear"' in page
    response = client_for(l1).post(f"/tickets/{ticket.pk}/requester-bounce/clear/")
    assert response.status_code == 303
    customer.refresh_from_db()
    assert customer.email_bouncing_since is None and customer.email_bounce_reason == ""
    assert "requester-bounce" not in client_for(l1).get(f"/tickets/{ticket.pk}/").content.decode()
    # Clearing again is harmless.
    assert client_for(l1).post(f"/tickets/{ticket.pk}/requester-bounce/clear/").status_code == 303


# --- follows ---------------------------------------------------------------------------------------


def test_follows_and_followed_by(customer, other_customer, l1):
    old = services.ticket_create(actor=customer, title="Old")
    Ticket.objects.filter(pk=old.pk).update(status=Status.CLOSED)
    new = services.ticket_create(actor=customer, title="Again", follows=old, via=Via.EMAIL)
    by_other = services.ticket_create(actor=other_customer, title="Me too", follows=old, via=Via.EMAIL)
    page = client_for(l1).get(f"/tickets/{old.pk}/").content.decode()
    assert (
        f'<a href="/tickets/{new.pk}/">{new.number}</a>, <a href="/tickets/{by_other.pk}/">{by_other.number}</a>'
        in page
    )
    page = client_for(l1).get(f"/tickets/{new.pk}/").content.decode()
    assert f'id="ticket-follows"><a href="/tickets/{old.pk}/">{old.number}</a>' in page
    # The customer sees only what is theirs.
    page = client_for(customer).get(f"/tickets/{old.pk}/").content.decode()
    assert new.number in page and by_other.number not in page
    page = client_for(other_customer).get(f"/tickets/{by_other.pk}/").content.decode()
    assert "ticket-follows" not in page and old.number not in page


# --- via e-mail -------------------------------------------------------------------------------------


def test_comments_that_came_by_mail_say_so(ticket, customer, l1):
    services.comment_create(ticket=ticket, actor=customer, body="Sent from my phone", via=Via.EMAIL)
    services.comment_create(ticket=ticket, actor=l1, body="Typed on the page")
    for user in (customer, l1):
        page = client_for(user).get(f"/tickets/{ticket.pk}/").content.decode()
        assert page.count("via e-mail") == 1


# --- CSP and queries ---------------------------------------------------------------------------------


def test_the_page_with_every_mail_part_keeps_the_csp(ticket, customer, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["boss@example.com"])
    User.objects.filter(pk=customer.pk).update(email_bouncing_since=timezone.now(), email_bounce_reason="<i>x</i>")
    services.comment_create(ticket=ticket, actor=customer, body="by mail", via=Via.EMAIL)
    for user in (l1, customer):
        response = client_for(user).get(f"/tickets/{ticket.pk}/")
        assert response.status_code == 200
        assert_csp_clean(response)
        assert "<i>x</i>" not in response.content.decode()


@pytest.mark.parametrize("role", ["l1", "customer"])
def test_ccs_follow_ups_and_mail_comments_cost_no_query_each(request, customer, l1, role):
    user = request.getfixturevalue(role)
    pages = {}
    for n in (1, 15):
        old = services.ticket_create(actor=customer, title=f"Old {n}")
        services.ticket_cc_set(ticket=old, actor=l1, addresses=[f"cc{i}@example.com" for i in range(n)])
        for i in range(n):
            services.comment_create(ticket=old, actor=customer, body=f"mail {i}", via=Via.EMAIL)
        Ticket.objects.filter(pk=old.pk).update(status=Status.CLOSED)
        for i in range(n):
            services.ticket_create(actor=customer, title=f"Again {i}", follows=old, via=Via.EMAIL)
        pages[n] = old
    client = client_for(user)
    counts = {}
    for n, ticket in pages.items():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/tickets/{ticket.pk}/").status_code == 200
        counts[n] = len(ctx.captured_queries)
    assert counts[1] == counts[15], counts
