"""The dashboard: every figure on a known population, permissions, constant queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import events
from tickets.events import EventKind
from tickets.models import Status, Ticket
from tickets.selectors.dashboard import dashboard_for
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/dashboard/"
# A Wednesday: `daily` runs Thu 2025-03-06 .. Wed 2025-03-12, the last 24 h start
# at 2025-03-11 10:00 and the MTTR week at 2025-03-05 10:00.
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
# Measured: tier counts, oldest per tier, created / resolved / escalated per day, MTTR + FCR.
DASHBOARD_QUERIES = 6


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


def escalated_at(ticket: Ticket, moment: datetime, kind: str = EventKind.ESCALATED) -> None:
    """Events take their time from the clock (auto_now_add), so the clock is moved."""
    with time_machine.travel(moment, tick=False):
        events.record(
            ticket, None, kind, before={"tier": 1}, after={"tier": 2}, reason="r", summary="s", steps_tried="t"
        )


@pytest.fixture
def population(customer):
    l1, l2 = UserFactory(role=Role.L1), UserFactory(role=Role.L2)
    h = timedelta(hours=1)

    def ticket(**fields) -> Ticket:
        return TicketFactory(requester=customer, **fields)

    # Tier 1, active. Elapsed share of the resolution time in brackets.
    t = {}
    t["A"] = ticket(
        tier=1, status=Status.NEW, priority=1, created_at=NOW - 10 * h, resolution_due_at=NOW + 10 * h
    )  # 50 %
    t["B"] = ticket(
        tier=1, status=Status.OPEN, priority=2, assignee=l1, created_at=NOW - 9 * h, resolution_due_at=NOW + h
    )  # 90 %: at risk
    t["C"] = ticket(
        tier=1, status=Status.NEW, priority=3, created_at=NOW - 6 * h, resolution_due_at=NOW + 2 * h
    )  # 75 %
    t["D"] = ticket(  # the oldest; pending pauses the clock, so 99 % is not "at risk"
        tier=1, status=Status.PENDING, priority=3, assignee=l1, created_at=NOW - 30 * 24 * h, resolution_due_at=NOW + h
    )
    t["E"] = ticket(  # overdue and breached
        tier=1, status=Status.OPEN, priority=1, sla_breached=True, created_at=NOW - 5 * h, resolution_due_at=NOW - h
    )
    t["F"] = ticket(  # 95 % but already breached (first response)
        tier=1,
        status=Status.NEW,
        priority=5,
        assignee=l1,
        sla_breached=True,
        created_at=NOW - 20 * h,
        resolution_due_at=NOW + h,
        response_breached_at=NOW - 19 * h,
    )
    t["G"] = ticket(tier=1, status=Status.OPEN, priority=4, created_at=NOW - 2 * h, resolution_due_at=None)  # no SLA
    t["H"] = ticket(  # due passed, the breach sweep has not run yet: late, not "at risk"
        tier=1,
        status=Status.OPEN,
        priority=2,
        assignee=l1,
        created_at=NOW - 72 * h,
        resolution_due_at=NOW - timedelta(minutes=5),
    )
    # Tier 2, active.
    t["I"] = ticket(
        tier=2, status=Status.OPEN, priority=2, created_at=NOW - 9 * 24 * h, resolution_due_at=NOW + 24 * h
    )  # 90 %
    t["J"] = ticket(
        tier=2, status=Status.NEW, priority=1, assignee=l2, created_at=NOW - h, resolution_due_at=NOW + 3 * h
    )  # 25 %
    # Done tickets: (created, resolved) -> minutes to resolve.
    t["R1"] = ticket(tier=1, status=Status.RESOLVED, created_at=at(12, 6), resolved_at=at(12, 9))  # 180, last 24 h
    t["R2"] = ticket(
        tier=2, status=Status.CLOSED, created_at=at(10, 10), resolved_at=at(11, 12)
    )  # 1560, last 24 h, escalated
    t["R3"] = ticket(tier=1, status=Status.RESOLVED, created_at=at(8), resolved_at=at(11, 8))  # 4800, before the 24 h
    t["R4"] = ticket(
        tier=3, status=Status.CLOSED, created_at=at(5, 11), resolved_at=at(5, 12)
    )  # 60, week but not daily
    t["R5"] = ticket(tier=3, status=Status.CLOSED, created_at=at(1), resolved_at=at(5, 9))  # before the week
    t["R6"] = ticket(tier=3, status=Status.RESOLVED, created_at=at(1), resolved_at=NOW + h)  # after `now`
    t["K"] = ticket(tier=3, status=Status.CLOSED, created_at=at(6), resolved_at=at(6, 1))  # 60, first daily midnight
    # Escalations: J on the 9th, R2 on the 10th, H exactly 24 h ago, I this morning,
    # R5 before the window; a de-escalation is not an escalation.
    escalated_at(t["J"], at(9, 15))
    escalated_at(t["R2"], at(10, 12))
    escalated_at(t["H"], NOW - 24 * h)
    escalated_at(t["I"], at(12, 8))
    escalated_at(t["R5"], at(4))
    escalated_at(t["A"], at(12, 9, 30), kind=EventKind.DEESCALATED)
    return t


def zeros() -> dict[str, int]:
    return {str(p): 0 for p in range(1, 6)}


def oldest(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "created_at": ticket.created_at.isoformat().replace("+00:00", "Z"),
    }


def expected(t: dict[str, Ticket]) -> dict:
    return {
        "generated_at": "2025-03-12T10:00:00Z",
        "tiers": [
            {
                "tier": 1,
                "open": 8,
                "unassigned": 4,  # A, C, E, G
                "breached": 2,  # E, F
                "at_risk": 1,  # B
                "by_priority": {"1": 2, "2": 2, "3": 2, "4": 1, "5": 1},
                "oldest": oldest(t["D"]),
            },
            {
                "tier": 2,
                "open": 2,
                "unassigned": 1,
                "breached": 0,
                "at_risk": 1,  # I
                "by_priority": {**zeros(), "1": 1, "2": 1},
                "oldest": oldest(t["I"]),
            },
            {
                "tier": 3,
                "open": 0,
                "unassigned": 0,
                "breached": 0,
                "at_risk": 0,
                "by_priority": zeros(),
                "oldest": None,
            },
        ],
        # created: F, A, B, C, E, G, J, R1; resolved: R1, R2; escalated: H (at the edge), I.
        "last_24h": {"created": 8, "resolved": 2, "escalated": 2},
        "daily": [
            {"date": "2025-03-06", "created": 1, "resolved": 1, "escalated": 0},  # K
            {"date": "2025-03-07", "created": 0, "resolved": 0, "escalated": 0},
            {"date": "2025-03-08", "created": 1, "resolved": 0, "escalated": 0},  # R3
            {"date": "2025-03-09", "created": 1, "resolved": 0, "escalated": 1},  # H; J
            {"date": "2025-03-10", "created": 1, "resolved": 0, "escalated": 1},  # R2; R2
            {"date": "2025-03-11", "created": 1, "resolved": 2, "escalated": 1},  # F; R2, R3; H
            {"date": "2025-03-12", "created": 7, "resolved": 1, "escalated": 1},  # A B C E G J R1; R1; I
        ],
        # R1 180 + R2 1560 + R3 4800 + R4 60 + K 60 = 6660 over 5.
        "mttr_minutes": 1332.0,
        "first_contact_resolution": {"resolved": 5, "first_contact": 4, "rate": 0.8},  # R2 was escalated
        "active_alerts": 0,
    }


def test_every_figure_on_a_known_population(population, django_assert_max_num_queries):
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        data = dashboard_for(now=NOW)
    assert data == expected(population)


def test_empty_helpdesk():
    data = dashboard_for(now=NOW)
    assert [row["tier"] for row in data["tiers"]] == [1, 2, 3]
    assert all(row["open"] == 0 and row["oldest"] is None and row["by_priority"] == zeros() for row in data["tiers"])
    assert data["last_24h"] == {"created": 0, "resolved": 0, "escalated": 0}
    assert [d["date"] for d in data["daily"]] == [f"2025-03-{d:02d}" for d in range(6, 13)]
    assert all(d["created"] == d["resolved"] == d["escalated"] == 0 for d in data["daily"])
    assert data["mttr_minutes"] is None
    assert data["first_contact_resolution"] == {"resolved": 0, "first_contact": 0, "rate": None}
    assert data["active_alerts"] == 0


def test_only_tiers_in_use_are_listed(population, settings):
    settings.HELPDESK_TIERS = 2
    assert [row["tier"] for row in dashboard_for(now=NOW)["tiers"]] == [1, 2]


def test_at_risk_follows_the_setting(population, settings):
    settings.HELPDESK_AT_RISK_PCT = 70
    tiers = dashboard_for(now=NOW)["tiers"]
    assert [row["at_risk"] for row in tiers] == [2, 1, 0]  # B and C (75 %); I


def test_at_risk_starts_exactly_at_the_threshold(customer):
    h, second = timedelta(hours=1), timedelta(seconds=1)
    # 80 % of 10 h is 8 h: one ticket exactly there, one a second short of it.
    TicketFactory(requester=customer, status=Status.OPEN, created_at=NOW - 8 * h, resolution_due_at=NOW + 2 * h)
    TicketFactory(
        requester=customer, status=Status.OPEN, created_at=NOW - 8 * h + second, resolution_due_at=NOW + 2 * h
    )
    assert dashboard_for(now=NOW)["tiers"][0]["at_risk"] == 1


def test_oldest_is_the_lowest_id_among_equally_old_active_tickets(customer):
    old = NOW - timedelta(days=40)
    TicketFactory(requester=customer, status=Status.CLOSED, created_at=old - timedelta(days=1))
    first, second = (TicketFactory(requester=customer, status=Status.OPEN, created_at=old) for _ in range(2))
    TicketFactory(requester=customer, status=Status.NEW, created_at=NOW - timedelta(hours=1))
    tiers = dashboard_for(now=NOW)["tiers"]
    assert tiers[0]["oldest"] == {"id": first.pk, "number": first.number, "created_at": "2025-01-31T10:00:00Z"}
    assert first.pk < second.pk


def test_reopened_tickets_no_longer_count_as_resolved(population):
    Ticket.objects.filter(pk=population["R1"].pk).update(status=Status.OPEN, resolved_at=None)
    data = dashboard_for(now=NOW)
    assert data["last_24h"]["resolved"] == 1
    assert data["first_contact_resolution"] == {"resolved": 4, "first_contact": 3, "rate": 0.75}
    assert data["tiers"][0]["open"] == 9


# --- API --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["l1", "l2", "manager"])
def test_agents_read_the_dashboard(api, request, population, role):
    with time_machine.travel(NOW, tick=False):
        response = api.as_(request.getfixturevalue(role)).get(API)
    assert response.status_code == 200
    assert response.json() == expected(population)


def test_customers_are_refused(api, customer):
    assert api.as_(customer).get(API).status_code == 403


def test_anonymous_is_asked_to_log_in(api):
    assert api.as_(None).get(API).status_code == 401


def test_dashboard_is_in_the_schema(api, l1):
    schema = api.as_(l1).get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/dashboard/" in schema["paths"]
    assert "Dashboard" in schema["components"]["schemas"]


# --- query count ------------------------------------------------------------------


def _crowd(n: int, requester) -> None:
    """n tickets over every tier, status and priority, half of them escalated."""
    agent = UserFactory(role=Role.L2)
    statuses = list(Status)
    rows = TicketFactory.build_batch(n, requester=requester)
    for i, t in enumerate(rows):
        t.tier, t.priority, t.status = i % 3 + 1, i % 5 + 1, statuses[i % len(statuses)]
        t.assignee = agent if i % 2 else None
        t.sla_breached = i % 7 == 0
        t.created_at = NOW - timedelta(hours=i % 200)
        t.resolution_due_at = t.created_at + timedelta(hours=10)
        if t.status in (Status.RESOLVED, Status.CLOSED):
            t.resolved_at = t.created_at + timedelta(minutes=30 + i)
    Ticket.objects.bulk_create(rows)
    ids = list(Ticket.objects.values_list("pk", flat=True))
    with time_machine.travel(NOW - timedelta(hours=3), tick=False):
        events.record_bulk(EventKind.ESCALATED, [(pk, {"reason": "r"}) for pk in ids[::2]])


def _count(now: datetime) -> int:
    with CaptureQueriesContext(connection) as ctx:
        dashboard_for(now=now)
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_tickets(customer, django_assert_max_num_queries):
    _crowd(10, customer)
    small = _count(NOW)
    _crowd(290, customer)
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        data = dashboard_for(now=NOW)
    assert sum(row["open"] for row in data["tiers"]) == 180  # 3 of 5 statuses are active
    assert all(row["oldest"] is not None for row in data["tiers"])
    assert _count(NOW) == small == DASHBOARD_QUERIES
