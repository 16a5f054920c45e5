"""The benchmark data generator (bench.generate) at a small size: counts,
distributions, SLA consistency, and its due tickets really fire in one tick."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection

from bench.escalation_sweep import bench_rule_create
from bench.generate import Spec, generate
from escalation.engine import escalation_tick
from escalation.models import EscalationRule, RuleFiring
from helpdesk.models import User
from notifications.models import Notification
from tickets.models import ACTIVE_STATUSES, DEFAULT_MATRIX, Comment, Ticket, TicketEvent
from tickets.services import sla

pytestmark = pytest.mark.django_db

# A Wednesday, 10:30 UTC: inside the default business hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
SPEC = Spec(tickets=200, open=40, due=10, customers=30, agents=8, seed=7)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("bench.generate loads with PostgreSQL COPY")


def _tickets(result):
    return Ticket.objects.filter(pk__range=(result.first_ticket_id, result.last_ticket_id))


def test_counts_and_distributions():
    spec = Spec(
        tickets=200, open=40, due=10, customers=30, agents=8, comments_per_ticket=2, events_per_ticket=4, seed=7
    )
    result = generate(spec, now=NOW, progress=False)

    assert (result.tickets, result.open, result.due, result.comments, result.events) == (200, 40, 10, 400, 800)
    roles = Counter(User.objects.filter(username__startswith="bench-").values_list("role", flat=True))
    assert roles == {"customer": 30, "l1": 4, "l2": 2, "l3": 1, "manager": 1}

    tickets = list(_tickets(result).order_by("id"))
    assert len(tickets) == 200
    statuses = Counter(t.status for t in tickets)
    assert statuses["resolved"] + statuses["closed"] == 160
    assert statuses["new"] + statuses["open"] + statuses["pending"] == 40
    # Ids follow creation time, like a real table.
    assert [t.created_at for t in tickets] == sorted(t.created_at for t in tickets)
    assert {t.tier for t in tickets} == {1, 2, 3}
    assert len({t.priority for t in tickets}) >= 4
    for t in tickets:
        assert t.priority == DEFAULT_MATRIX[(t.impact, t.urgency)]
        assert t.created_at <= NOW
        assert t.first_response_due_at > t.created_at and t.resolution_due_at >= t.first_response_due_at

    autoclose = timedelta(days=settings.HELPDESK_AUTOCLOSE_DAYS)
    for t in tickets:
        if t.status == "closed":
            assert t.closed_at == t.resolved_at + autoclose <= NOW
        elif t.status == "resolved":
            assert t.resolved_at > NOW - autoclose and t.closed_at is None
        if t.status in ("resolved", "closed"):
            assert t.assignee_id and t.resolution and t.resolved_at <= NOW
            assert t.sla_breached == bool(t.response_breached_at or t.resolution_breached_at)
            if t.resolution_breached_at:
                assert t.resolved_at > t.resolution_due_at

    ctx = sla.SlaContext.load()
    active = [t for t in tickets if t.status in ACTIVE_STATUSES]
    due = [t for t in active if t.pk in set(result.due_ids)]
    assert len(due) == 10
    for t in active:
        # Exactly the due times the product computes for the ticket.
        assert (t.first_response_due_at, t.resolution_due_at) == sla.due_times(t, ctx)
        assert not t.sla_breached and t.response_breached_at is None and t.resolution_breached_at is None
        if t.status == "new":
            assert t.assignee_id is None and t.queued_at == t.created_at and t.first_responded_at is None
        else:
            assert t.assignee_id and t.first_responded_at <= t.first_response_due_at
        if t.status == "pending":
            assert t.sla_paused_at is not None
    for t in due:
        assert (t.status, t.tier) == ("open", 1) and t.priority >= 3
        assert NOW - timedelta(days=4) < t.resolution_due_at <= NOW
    for t in active:
        if t not in due:
            assert t.resolution_due_at > NOW
            assert t.created_at + (t.resolution_due_at - t.created_at) / 2 > NOW
            if t.status == "new":
                assert t.first_response_due_at > NOW

    events = TicketEvent.objects.filter(ticket_id__in=[t.pk for t in tickets])
    assert events.count() == 800
    first = {}
    for event in events.order_by("at", "id"):
        first.setdefault(event.ticket_id, event.kind)
    assert set(first.values()) == {"created"}
    assert Comment.objects.filter(ticket_id__in=[t.pk for t in tickets]).count() == 400


def test_history_firings_follow_the_rules():
    # Rules with SLA triggers (the default rules may have been flushed by other tests).
    EscalationRule.objects.create(
        name="bench test: response", trigger="first_response_overdue", notify=["tier:current"]
    )
    EscalationRule.objects.create(
        name="bench test: L2 late", tiers=[2], trigger="resolution_overdue", escalate_to_tier=3
    )
    result = generate(SPEC, now=NOW, progress=False)
    firings = RuleFiring.objects.filter(ticket__id__range=(result.first_ticket_id, result.last_ticket_id))
    assert firings.count() == result.firings > 0
    for firing in firings.select_related("rule", "ticket"):
        ticket, rule = firing.ticket, firing.rule
        assert ticket.status in ("resolved", "closed") and firing.episode == ticket.episode
        assert not rule.tiers or ticket.tier in rule.tiers
        assert not rule.priorities or ticket.priority in rule.priorities
        if rule.trigger == "first_response_overdue":
            assert ticket.response_breached_at is not None
        if rule.trigger == "resolution_overdue":
            assert ticket.resolution_breached_at is not None


def test_due_tickets_fire_in_one_tick():
    result = generate(SPEC, now=NOW, progress=False)
    rule = bench_rule_create()
    managers = User.objects.filter(role="manager", is_active=True).exclude(email="").count()

    report = escalation_tick(now=NOW)

    assert report.breaches == 10
    assert report.fired[rule.pk] == 10
    assert report.total_fired == 10
    due = Ticket.objects.filter(pk__in=result.due_ids)
    assert {(t.tier, t.episode, t.assignee_id) for t in due} == {(2, 2, None)}
    assert all(t.resolution_breached_at == NOW for t in due)
    assert Comment.objects.filter(ticket__in=due, internal=True).count() == 10
    # 10 tickets in one batch: each manager gets one digest listing them all.
    digests = Notification.objects.filter(rule_id=rule.pk)
    assert digests.count() == managers and not digests.filter(ticket__isnull=False).exists()
    assert all(set(n.payload["ticket_ids"]) == set(result.due_ids) for n in digests)
    # Once per episode: a second tick does not fire the rule again (the default
    # "resolution overdue in L2" rule, when present, takes the tickets on from tier 2).
    again = escalation_tick(now=NOW)
    assert (again.breaches, again.fired[rule.pk]) == (0, 0)
