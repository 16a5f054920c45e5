"""helpdesk.db.insert_rows: many rows without model instances, same rows as bulk_create."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from escalation.models import EscalationRule, Notification, RuleFiring
from helpdesk.db import insert_rows
from tickets.models import Comment, TicketEvent
from tickets.tests.factories import TicketFactory, UserFactory

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


def test_ignore_conflicts_skips_existing_rows():
    ticket = TicketFactory()
    rule = EscalationRule.objects.create(name="r", trigger="idle_for")
    first, second = uuid.uuid4(), uuid.uuid4()
    fields = ("rule_id", "ticket_id", "episode", "tick")
    insert_rows(RuleFiring, fields, [(rule.pk, ticket.pk, 1, first)], ignore_conflicts=True)
    insert_rows(
        RuleFiring, fields, [(rule.pk, ticket.pk, 1, second), (rule.pk, ticket.pk, 2, second)], ignore_conflicts=True
    )
    assert sorted(RuleFiring.objects.values_list("episode", "tick")) == [(1, first), (2, second)]


def test_nothing_to_insert():
    assert insert_rows(Comment, ("ticket_id", "author_id", "body"), [], returning=True) == []
