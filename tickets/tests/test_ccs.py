"""A ticket's CCs (docs/API.md "Tickets" `cc`): the service's rules and its event,
the API's read and PATCH (If-Match, bad input), and comments' `via`."""

from __future__ import annotations

import pytest

from helpdesk.errors import Conflict, InvalidInput, NotAllowed, StaleVersion
from tickets import services
from tickets.events.timeline import Names, timeline_text
from tickets.models import Comment, EventKind, Status, Ticket, TicketCc, TicketEvent, Via
from tickets.tests.factories import TicketFactory, if_match

pytestmark = pytest.mark.django_db

API = "/api/v1/tickets/"


def ccs(ticket: Ticket) -> list[str]:
    return list(TicketCc.objects.filter(ticket_id=ticket.pk).order_by("id").values_list("email", flat=True))


def cc_events(ticket: Ticket) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket_id=ticket.pk, kind=EventKind.CC_CHANGED).order_by("id"))


@pytest.fixture
def ticket(customer):
    return services.ticket_create(actor=customer, title="Printer jams")


# --- the service ----------------------------------------------------------------------------------


def test_set_adds_and_removes_by_difference_with_one_event_and_one_version(ticket, l1):
    version = ticket.version
    services.ticket_cc_set(
        ticket=ticket, actor=l1, addresses=[" Boss@Example.com ", "ops@example.com", "boss@example.com"]
    )
    assert ccs(ticket) == ["boss@example.com", "ops@example.com"]
    first_ids = dict(TicketCc.objects.filter(ticket=ticket).values_list("email", "id"))
    changed = services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["ops@example.com", "new@example.com"])
    assert ccs(ticket) == ["ops@example.com", "new@example.com"]
    # ops@ was kept, not rewritten
    assert TicketCc.objects.get(ticket=ticket, email="ops@example.com").pk == first_ids["ops@example.com"]
    assert changed.version == version + 2 == Ticket.objects.get(pk=ticket.pk).version
    first, second = cc_events(ticket)
    assert first.actor_id == l1.pk
    assert first.data == {"before": {"cc": []}, "after": {"cc": ["boss@example.com", "ops@example.com"]}}
    assert second.data == {
        "before": {"cc": ["boss@example.com", "ops@example.com"]},
        "after": {"cc": ["ops@example.com", "new@example.com"]},
    }
    names = Names()
    assert timeline_text(first, names) == "CC added boss@example.com, ops@example.com"
    assert timeline_text(second, names) == "CC added new@example.com; removed boss@example.com"


def test_the_same_list_again_writes_nothing(ticket, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["a@example.com"])
    version = Ticket.objects.get(pk=ticket.pk).version
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["A@example.com"])
    assert Ticket.objects.get(pk=ticket.pk).version == version
    assert len(cc_events(ticket)) == 1
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=[])
    assert ccs(ticket) == [] and len(cc_events(ticket)) == 2
    assert timeline_text(cc_events(ticket)[1], Names()) == "CC removed a@example.com"


@pytest.mark.parametrize(
    "addresses",
    [
        ["not an address"],
        ["a@example.com", ""],
        ["nul\x00@example.com"],
        ["\ud800@example.com"],
        ["a@exa mple.com"],
        ["x" * 250 + "@example.com"],
        [f"u{i}@example.com" for i in range(21)],
        "a@example.com",  # a string, not a list
        [1],
        None,
    ],
)
def test_bad_addresses_are_refused_and_change_nothing(ticket, l1, addresses):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["keep@example.com"])
    version = Ticket.objects.get(pk=ticket.pk).version
    with pytest.raises(InvalidInput) as caught:
        services.ticket_cc_set(ticket=ticket, actor=l1, addresses=addresses)
    assert set(caught.value.detail) == {"cc"}
    assert ccs(ticket) == ["keep@example.com"]
    assert Ticket.objects.get(pk=ticket.pk).version == version


def test_twenty_addresses_are_the_limit(ticket, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=[f"u{i}@example.com" for i in range(20)])
    assert len(ccs(ticket)) == services.CC_MAX == 20


def test_who_may_set_them(customer, l1, l2, manager):
    ticket = services.ticket_create(actor=customer, title="Deep problem")
    Ticket.objects.filter(pk=ticket.pk).update(tier=2)
    for actor in (customer, l1):
        with pytest.raises(NotAllowed):
            services.ticket_cc_set(ticket=ticket, actor=actor, addresses=["a@example.com"])
    assert ccs(ticket) == []
    services.ticket_cc_set(ticket=ticket, actor=l2, addresses=["a@example.com"])
    services.ticket_cc_set(ticket=ticket, actor=manager, addresses=["b@example.com"])
    assert ccs(ticket) == ["b@example.com"]


def test_stale_version_and_closed_tickets(ticket, l1):
    with pytest.raises(StaleVersion):
        services.ticket_cc_set(
            ticket=ticket, actor=l1, addresses=["a@example.com"], expected_version=ticket.version + 5
        )
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["a@example.com"], expected_version=ticket.version)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    with pytest.raises(Conflict):
        services.ticket_cc_set(ticket=ticket, actor=l1, addresses=[])
    assert ccs(ticket) == ["a@example.com"]


def test_a_cc_set_on_the_page_makes_the_address_a_participant(ticket, l1, other_customer):
    """The CC service feeds the rule comment_create already knows: a CC may comment publicly."""
    with pytest.raises(NotAllowed):
        services.comment_create(ticket=ticket, actor=other_customer, body="me too")
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=[other_customer.email.upper()])
    comment = services.comment_create(ticket=ticket, actor=other_customer, body="me too", via=Via.EMAIL)
    assert comment.via == Via.EMAIL


# --- the API ----------------------------------------------------------------------------------------


def test_cc_is_read_by_whoever_reads_the_ticket(api, ticket, customer, other_customer, l1):
    services.ticket_cc_set(ticket=ticket, actor=l1, addresses=["b@example.com", "a@example.com"])
    for user in (customer, l1):
        r = api.as_(user).get(f"{API}{ticket.pk}/")
        assert r.status_code == 200 and r.data["cc"] == ["b@example.com", "a@example.com"]
        listed = api.as_(user).get(API)
        assert next(row for row in listed.data["results"] if row["id"] == ticket.pk)["cc"] == [
            "b@example.com",
            "a@example.com",
        ]
    assert api.as_(other_customer).get(f"{API}{ticket.pk}/").status_code == 404


def test_patch_cc_with_if_match(api, ticket, l1):
    client = api.as_(l1)
    r = client.patch(f"{API}{ticket.pk}/", {"cc": ["Team@Example.com"]}, format="json", **if_match(ticket))
    assert r.status_code == 200, r.data
    assert r.data["cc"] == ["team@example.com"]
    assert r["ETag"] == f'"{r.data["version"]}"' and r.data["version"] == ticket.version + 1
    # Stale version: 412, nothing changes.
    r = client.patch(f"{API}{ticket.pk}/", {"cc": []}, format="json", HTTP_IF_MATCH=f'"{ticket.version}"')
    assert r.status_code == 412
    assert ccs(ticket) == ["team@example.com"]
    # Without If-Match: 428.
    assert client.patch(f"{API}{ticket.pk}/", {"cc": []}, format="json").status_code == 428


def test_patch_cc_with_other_fields_is_one_edit(api, ticket, l1):
    r = api.as_(l1).patch(
        f"{API}{ticket.pk}/",
        {"title": "Printer jams daily", "cc": ["a@example.com"]},
        format="json",
        **if_match(ticket),
    )
    assert r.status_code == 200, r.data
    assert r.data["version"] == ticket.version + 1
    assert r.data["title"] == "Printer jams daily" and r.data["cc"] == ["a@example.com"]
    kinds = set(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert {EventKind.UPDATED, EventKind.CC_CHANGED} <= kinds


def test_patch_cc_refused_title_leaves_the_ccs_alone(api, ticket, l1):
    r = api.as_(l1).patch(
        f"{API}{ticket.pk}/", {"title": "   ", "cc": ["a@example.com"]}, format="json", **if_match(ticket)
    )
    assert r.status_code == 400
    assert ccs(ticket) == []


@pytest.mark.parametrize(
    "value",
    [
        "a@example.com",
        ["not-an-address"],
        ["nul\u0000@example.com"],
        ["a@example.com", ""],
        [None],
        [["a@example.com"]],
        {"a": "b"},
        [f"u{i}@example.com" for i in range(21)],
        ["é" * 400],
    ],
)
def test_patch_bad_cc_is_a_400_and_changes_nothing(api, ticket, l1, value):
    r = api.as_(l1).patch(f"{API}{ticket.pk}/", {"cc": value}, format="json", **if_match(ticket))
    assert r.status_code == 400, (r.status_code, r.content[:300])
    assert "cc" in r.json()
    assert ccs(ticket) == [] and Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_a_lone_surrogate_in_cc_is_a_400(api, ticket, l1):
    body = b'{"cc": ["\\ud800@example.com"]}'
    r = api.as_(l1).patch(f"{API}{ticket.pk}/", body, content_type="application/json", **if_match(ticket))
    assert r.status_code == 400
    assert ccs(ticket) == []


def test_customers_and_lower_tiers_may_not_patch_cc(api, ticket, customer, l1):
    Ticket.objects.filter(pk=ticket.pk).update(tier=2)
    for user in (customer, l1):
        r = api.as_(user).patch(f"{API}{ticket.pk}/", {"cc": ["a@example.com"]}, format="json", HTTP_IF_MATCH="*")
        assert r.status_code == 403
    assert ccs(ticket) == []


def test_comments_say_where_they_came_in(api, ticket, customer, l1):
    r = api.as_(l1).post(f"{API}{ticket.pk}/comments/", {"body": "From a script"}, format="json")
    assert r.status_code == 201 and r.data["via"] == "api"
    # Read-only: a client cannot claim another channel.
    r = api.as_(customer).post(f"{API}{ticket.pk}/comments/", {"body": "Hi", "via": "email"}, format="json")
    assert r.status_code == 201 and r.data["via"] == "api"
    services.comment_create(ticket=ticket, actor=customer, body="by mail", via=Via.EMAIL)
    listed = api.as_(customer).get(f"{API}{ticket.pk}/comments/")
    assert [row["via"] for row in listed.data["results"]] == ["api", "api", "email"]
    assert Comment.objects.filter(ticket=ticket, via=Via.API).count() == 2


def test_factory_tickets_have_no_ccs(api, l1):
    ticket = TicketFactory()
    assert api.as_(l1).get(f"{API}{ticket.pk}/").data["cc"] == []
