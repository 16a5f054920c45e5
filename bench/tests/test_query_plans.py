"""The hot queries use their indexes: EXPLAIN on a seeded PostgreSQL table.

20,000 tickets (5 % active, 3 comments and 5 events each) from bench.generate,
analysed, then each query's plan is read as the planner would really run it
(no enable_seqscan tricks): a plan that sorts or scans every ticket is what
makes a page slow at a million tickets.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from bench.generate import Spec, generate
from escalation.engine import rule_matches
from escalation.models import EscalationRule
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets.models import QUEUE_STATUSES, Ticket, TicketEvent
from tickets.selectors import scoped

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's"),
]

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Loaded once for the module, in its own transaction, rolled back at the end."""
    with django_db_blocker.unblock():
        from django.db import transaction

        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            result = generate(
                Spec(tickets=20_000, customers=2_000, comments_per_ticket=3, events_per_ticket=5, prefix="plans"),
                now=NOW,
                progress=False,
            )
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE helpdesk_user, tickets_ticket, tickets_comment, tickets_ticketevent")
            yield result
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def plan(queryset) -> str:
    return queryset.explain()


def test_the_tier_queue_page_reads_its_order_from_an_index(seeded):
    agent = UserFactory(role=Role.L1)
    qs = scoped.ticket_list_for(
        user=agent, filters={"tier": 1, "status": "new,open,pending", "ordering": "priority,resolution_due_at"}
    ).select_related("assignee", "requester", "application")[:25]
    text = plan(qs)
    assert "ticket_active_tier_order" in text and "Sort" not in text.split("ticket_active_tier_order")[0], text


def test_next_ticket_reads_the_queue_index(seeded):
    qs = Ticket.objects.filter(tier=2, assignee__isnull=True, status__in=QUEUE_STATUSES).order_by(
        "priority", "resolution_due_at", "id"
    )[:1]
    assert "ticket_queue" in plan(qs)


def test_the_sla_sweeps_scan_only_active_tickets_by_due_time(seeded):
    response = Ticket.objects.filter(
        status__in=["new", "open", "pending"],
        first_responded_at__isnull=True,
        response_breached_at__isnull=True,
        first_response_due_at__lte=NOW,
    ).order_by("first_response_due_at")[:5000]
    resolution = Ticket.objects.filter(
        status__in=["new", "open"], resolution_breached_at__isnull=True, resolution_due_at__lte=NOW
    ).order_by("resolution_due_at")[:5000]
    assert "ticket_response_due" in plan(response)
    assert "ticket_resolution_due" in plan(resolution)


def test_a_rule_finds_its_candidates_through_an_active_ticket_index(seeded):
    rule = EscalationRule(pk=10**9, name="plan", trigger="resolution_overdue", tiers=[1], threshold=0)
    text = plan(rule_matches(rule, now=NOW).order_by("pk")[:5000])
    assert "Seq Scan on tickets_ticket" not in text, text


def test_a_ticket_page_reads_comments_and_events_by_ticket(seeded):
    ticket = Ticket.objects.filter(status="closed").order_by("id").first()
    agent = UserFactory(role=Role.L2)
    comments = scoped.comment_list_for(user=agent, ticket=ticket)
    events = scoped.event_list_for(user=agent, ticket=ticket)
    assert "comment_ticket_created" in plan(comments)
    assert "event_ticket" in plan(events)
    assert "pkey" in plan(Ticket.objects.filter(pk=ticket.pk))


def test_the_dashboard_aggregates_read_through_indexes(seeded):
    week = Ticket.objects.filter(created_at__gte=datetime(2026, 2, 23, tzinfo=UTC), created_at__lte=NOW)
    assert "ticket_created" in plan(week.values("id"))
    resolved = Ticket.objects.filter(resolved_at__gte=datetime(2026, 2, 23, tzinfo=UTC), resolved_at__lte=NOW)
    assert "ticket_resolved" in plan(resolved.values("id"))
    escalated = plan(TicketEvent.objects.filter(kind="escalated", at__gte=datetime(2026, 2, 23, tzinfo=UTC)))
    assert "event_kind_at" in escalated or "event_escalated_ticket" in escalated, escalated


def test_the_dashboard_per_tier_figures_read_only_active_tickets(seeded):
    """The per-tier figures read an index of the active tickets only."""
    from django.db.models import Count

    from tickets.selectors.dashboard import dashboard_for

    per_tier = (
        Ticket.objects.filter(status__in=["new", "open", "pending"], tier__in=[1, 2, 3])
        .order_by()
        .values("tier")
        .annotate(n=Count("tier"), unassigned=Count("tier", filter=Q(assignee__isnull=True)))
    )
    # Inside the test's transaction the visibility map is not set (no VACUUM), so the
    # planner may prefer another index over the active tickets; after VACUUM, as in
    # production, it is an index scan of ticket_active_tier_figures (docs/PERFORMANCE.md).
    text = plan(per_tier)
    assert "Seq Scan on tickets_ticket" not in text and "Index" in text, text
    assert dashboard_for(now=NOW)["tiers"]


def test_first_contact_resolution_probes_escalations_by_ticket(seeded):
    resolved = Ticket.objects.filter(resolved_at__gte=datetime(2026, 2, 23, tzinfo=UTC)).filter(
        ~Exists(TicketEvent.objects.filter(kind="escalated", ticket=OuterRef("pk")))
    )
    assert "event_escalated_ticket" in plan(resolved.values("id"))


def test_an_agent_finds_the_requester_by_e_mail_through_an_index(seeded):
    from helpdesk.models import User

    qs = User.objects.filter(email__iexact="Someone@Example.com").order_by("id")[:1]
    assert "user_email_upper" in plan(qs)
