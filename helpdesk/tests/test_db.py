"""helpdesk.db.insert_rows: many rows without model instances, same rows as bulk_create."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from escalation.models import EscalationRule, RuleFiring
from helpdesk.db import _integer_array_literal, ids_filter, insert_rows
from helpdesk.tests.factories import UserFactory
from notifications.models import Notification
from tickets.models import Comment, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_returns_ids_in_row_order_and_fills_defaults():
    tickets = TicketFactory.create_batch(3)
    author = UserFactory()
    before = timezone.now()
    ids = insert_rows(
        Comment,
        ("ticket_id", "author_id", "body", "internal"),
        [
            (t.pk, author.pk, f'note {i} with "quotes", {{braces}}, back\\slash and ünïcode', i == 1)
            for i, t in enumerate(tickets)
        ],
        returning=True,
    )
    comments = {c.pk: c for c in Comment.objects.filter(pk__in=ids)}
    assert [comments[pk].ticket_id for pk in ids] == [t.pk for t in tickets]
    assert comments[ids[1]].internal and not comments[ids[0]].internal
    assert comments[ids[2]].body == 'note 2 with "quotes", {braces}, back\\slash and ünïcode'
    assert all(before <= c.created_at <= timezone.now() for c in comments.values())  # auto_now_add


def test_json_values_defaults_and_nulls():
    ticket = TicketFactory()
    rule = EscalationRule.objects.create(name="r", trigger="idle_for")
    now = timezone.now()
    payload = {"title": 'a "b" \\ c', "n": [1, 2, {"x": None}], "ok": True}
    [pk] = insert_rows(
        Notification,
        ("channel", "target", "subject", "body", "payload", "ticket_id", "rule_id", "next_attempt_at"),
        [("email", "a@example.com", "s", "b", payload, ticket.pk, rule.pk, now)],
        returning=True,
    )
    row = Notification.objects.get(pk=pk)
    assert row.payload == payload
    assert (row.status, row.attempts, row.last_error, row.sent_at, row.next_attempt_at) == ("pending", 0, "", None, now)
    insert_rows(TicketEvent, ("ticket_id", "actor_id", "kind", "data"), [(ticket.pk, None, "updated", {"k": 1})])
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.actor_id, event.kind, event.data) == (None, "updated", {"k": 1})


@pytest.mark.parametrize("path", ["unnest", "portable"])
def test_ignore_conflicts_skips_existing_rows_and_returns_what_it_inserted(path, monkeypatch):
    if path == "portable":  # the bulk_create path other databases (SQLite in development) take
        monkeypatch.setattr(connection, "vendor", "other")
    first, second = TicketFactory(), TicketFactory()
    rule = EscalationRule.objects.create(name="r", trigger="idle_for")
    fields = ("rule_id", "ticket_id", "episode")
    won = insert_rows(RuleFiring, fields, [(rule.pk, first.pk, 1)], ignore_conflicts=True, returning="ticket_id")
    assert won == [first.pk]
    won = insert_rows(
        RuleFiring,
        fields,
        [(rule.pk, first.pk, 1), (rule.pk, second.pk, 1), (rule.pk, first.pk, 2)],
        ignore_conflicts=True,
        returning="ticket_id",
    )
    assert sorted(won) == sorted([second.pk, first.pk])  # (first, 1) was there already
    assert sorted(RuleFiring.objects.values_list("ticket_id", "episode")) == sorted(
        [(first.pk, 1), (second.pk, 1), (first.pk, 2)]
    )
    again = insert_rows(RuleFiring, fields, [(rule.pk, second.pk, 1)], ignore_conflicts=True, returning=True)
    assert again == [] and RuleFiring.objects.count() == 3


def test_nothing_to_insert():
    assert insert_rows(Comment, ("ticket_id", "author_id", "body"), [], returning=True) == []


@pytest.mark.parametrize("vendor", ["postgresql", "other"])
def test_ids_filter_matches_exactly_the_ids(vendor, monkeypatch):
    tickets = TicketFactory.create_batch(4)
    if vendor == "other":
        monkeypatch.setattr(connection, "vendor", "other")
    chosen = [tickets[0].pk, tickets[2].pk]
    assert sorted(Ticket.objects.filter(ids_filter(chosen)).values_list("pk", flat=True)) == sorted(chosen)
    assert sorted(Ticket.objects.filter(ids_filter(iter(chosen), "id")).values_list("pk", flat=True)) == sorted(chosen)
    assert list(Ticket.objects.filter(ids_filter([]))) == []
    assert Ticket.objects.filter(ids_filter([tickets[1].pk])).update(title="only this") == 1
    assert Ticket.objects.filter(title="only this").count() == 1


def test_ids_filter_sends_one_array_literal_on_postgresql(django_assert_num_queries):
    ticket = TicketFactory()
    with django_assert_num_queries(1) as captured:
        list(Ticket.objects.filter(ids_filter([ticket.pk, 10**12])))
    assert "= ANY(" in captured.captured_queries[0]["sql"]


def test_integer_columns_go_as_array_literals_and_keep_nulls():
    ticket = TicketFactory()
    author = UserFactory()
    insert_rows(
        TicketEvent,
        ("ticket_id", "actor_id", "kind", "data"),
        [(ticket.pk, author.pk, "commented", {}), (ticket.pk, None, "updated", {})],
    )
    assert sorted(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "actor_id")) == [
        ("commented", author.pk),
        ("updated", None),
    ]
    assert _integer_array_literal([1, None, 3]) == "{1,NULL,3}"
    assert _integer_array_literal([1, True]) is None  # not plain ints: the list goes as it is
    assert _integer_array_literal(["1"]) is None
