"""SLA clocks on real tickets (docs/PRODUCT.md "SLA policies and business calendar"): due times from the default policies and the
business calendar, moving with priority, paused while pending or resolved, and the
breach sweep. The clock is frozen (time_machine, tick=False) so every instant is exact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tickets import services
from tickets.business_time import WorkingCalendar, add_business_seconds, business_seconds_between
from tickets.events import EventKind
from tickets.models import DEFAULT_SLA, BusinessCalendar, Level, SlaPolicy, Status, Ticket
from tickets.services.sla import SlaContext, due_times, sla_breaches_record
from tickets.tests.services_helpers import events_of, fresh

pytestmark = pytest.mark.django_db

HOUR = 3600


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MON = at(2026, 3, 2, 10)  # Monday 2 March 2026, 10:00 UTC
FRI = at(2026, 3, 6, 10)  # Friday of the same week

# (impact, urgency) giving each priority with the default ITIL matrix.
LEVELS = {
    1: (Level.HIGH, Level.HIGH),
    2: (Level.HIGH, Level.MEDIUM),
    3: (Level.MEDIUM, Level.MEDIUM),
    4: (Level.MEDIUM, Level.LOW),
    5: (Level.LOW, Level.LOW),
}

OFFICE = WorkingCalendar.build(timezone="UTC", working_days=range(5), day_start=time(9), day_end=time(17))


@pytest.fixture
def clock():
    """A frozen clock; `clock.move_to(dt)` jumps, nothing ticks in between."""
    with time_machine.travel(MON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agent(l3):
    return l3


def new_ticket(agent, customer, priority: int = 3, **kwargs) -> Ticket:
    impact, urgency = LEVELS[priority]
    ticket = services.ticket_create(
        actor=agent, requester=customer, title="VPN drops", impact=impact, urgency=urgency, **kwargs
    )
    assert ticket.priority == priority
    return ticket


def move(ticket: Ticket, agent, status: str) -> Ticket:
    resolution = "Restarted the VPN gateway." if status == Status.RESOLVED else ""
    return services.ticket_transition(ticket=ticket, actor=agent, status=status, resolution=resolution)


def dues(ticket: Ticket) -> tuple[datetime, datetime]:
    ticket = fresh(ticket)
    return ticket.first_response_due_at, ticket.resolution_due_at


# --- due times at creation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "created, priority, response, resolution",
    [
        # Monday 10:00, inside working hours.
        (MON, 1, at(2026, 3, 2, 10, 15), at(2026, 3, 2, 14)),
        (MON, 2, at(2026, 3, 2, 11), at(2026, 3, 3, 10)),
        (MON, 3, at(2026, 3, 2, 14), at(2026, 3, 5, 10)),
        (MON, 4, at(2026, 3, 3, 10), at(2026, 3, 9, 10)),
        (MON, 5, at(2026, 3, 5, 10), at(2026, 3, 16, 10)),
        # Saturday 11:00: P1 runs around the clock, the others start Monday 09:00.
        (at(2026, 3, 7, 11), 1, at(2026, 3, 7, 11, 15), at(2026, 3, 7, 15)),
        (at(2026, 3, 7, 11), 2, at(2026, 3, 9, 10), at(2026, 3, 9, 17)),
        (at(2026, 3, 7, 11), 3, at(2026, 3, 9, 13), at(2026, 3, 11, 17)),
        (at(2026, 3, 7, 11), 4, at(2026, 3, 9, 17), at(2026, 3, 13, 17)),
        (at(2026, 3, 7, 11), 5, at(2026, 3, 11, 17), at(2026, 3, 20, 17)),
        # Sunday night and a weekday evening count from the next morning.
        (at(2026, 3, 8, 23), 3, at(2026, 3, 9, 13), at(2026, 3, 11, 17)),
        (at(2026, 3, 3, 20), 1, at(2026, 3, 3, 20, 15), at(2026, 3, 4, 0)),
        (at(2026, 3, 3, 20), 2, at(2026, 3, 4, 10), at(2026, 3, 4, 17)),
        # Before opening and exactly at closing time.
        (at(2026, 3, 3, 7), 2, at(2026, 3, 3, 10), at(2026, 3, 3, 17)),
        (at(2026, 3, 2, 17), 2, at(2026, 3, 3, 10), at(2026, 3, 3, 17)),
        # Friday afternoon rolls over the weekend.
        (at(2026, 3, 6, 16, 30), 2, at(2026, 3, 9, 9, 30), at(2026, 3, 9, 16, 30)),
        (at(2026, 3, 6, 16, 30), 3, at(2026, 3, 9, 12, 30), at(2026, 3, 11, 16, 30)),
    ],
)
def test_due_times_at_creation(clock, agent, customer, created, priority, response, resolution):
    clock.move_to(created)
    ticket = new_ticket(agent, customer, priority)
    stored = fresh(ticket)
    assert stored.created_at == created
    assert (stored.first_response_due_at, stored.resolution_due_at) == (response, resolution)
    assert stored.episode == 1 and stored.sla_paused_seconds == 0 and stored.sla_paused_at is None
    assert not events_of(ticket, EventKind.SLA_CHANGED)


def test_public_holidays_of_the_calendar_country_are_skipped(clock, agent, customer):
    BusinessCalendar.objects.update_or_create(pk=1, defaults={"holiday_country": "DE"})
    clock.move_to(at(2026, 4, 30, 16))  # Thursday; Friday 1 May is Labour Day in Germany
    ticket = new_ticket(agent, customer, 2)
    assert dues(ticket) == (at(2026, 4, 30, 17), at(2026, 5, 4, 16))


def test_calendar_time_zone_and_hours_are_used(clock, agent, customer):
    BusinessCalendar.objects.update_or_create(
        pk=1,
        defaults={"timezone": "Europe/Berlin", "working_days": [0, 1, 2, 3], "day_start": time(8), "day_end": time(12)},
    )
    clock.move_to(at(2026, 3, 5, 10))  # Thursday 11:00 in Berlin: one working hour left, Friday off
    ticket = new_ticket(agent, customer, 2)  # 1 h / 8 h
    # Response: Thursday 11:00-12:00 local. Resolution: 1 h Thu + 4 h Mon + 3 h Tue -> Tue 11:00 local.
    assert dues(ticket) == (at(2026, 3, 5, 11), at(2026, 3, 10, 10))


# --- priority changes -------------------------------------------------------------------------


def test_priority_change_moves_due_times_and_starts_an_episode(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    assert dues(ticket) == (at(2026, 3, 2, 14), at(2026, 3, 5, 10))

    clock.move_to(at(2026, 3, 2, 11))
    services.ticket_update(ticket=ticket, actor=agent, changes={"urgency": Level.HIGH})  # -> P2
    ticket = fresh(ticket)
    assert ticket.priority == 2
    # Due times count from creation with the new targets, not from the change.
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (at(2026, 3, 2, 11), at(2026, 3, 3, 10))
    assert ticket.episode == 2
    [changed] = events_of(ticket, EventKind.SLA_CHANGED)
    assert changed.actor_id == agent.pk
    assert changed.data["before"] == {
        "first_response_due_at": "2026-03-02T14:00:00+00:00",
        "resolution_due_at": "2026-03-05T10:00:00+00:00",
    }
    assert changed.data["after"] == {
        "first_response_due_at": "2026-03-02T11:00:00+00:00",
        "resolution_due_at": "2026-03-03T10:00:00+00:00",
    }
    [prio] = events_of(ticket, EventKind.PRIORITY_CHANGED)
    assert prio.data["before"] == {"priority": 3} and prio.data["after"] == {"priority": 2}

    # Lowering the priority moves them later again.
    services.ticket_update(ticket=ticket, actor=agent, changes={"impact": Level.LOW, "urgency": Level.LOW})  # P5
    ticket = fresh(ticket)
    assert ticket.priority == 5
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (at(2026, 3, 5, 10), at(2026, 3, 16, 10))
    assert ticket.episode == 3
    assert len(events_of(ticket, EventKind.SLA_CHANGED)) == 2


def test_change_that_keeps_the_priority_keeps_due_times_and_episode(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    before = dues(ticket)
    # high impact / low urgency is P3 as well.
    services.ticket_update(
        ticket=ticket, actor=agent, changes={"impact": Level.HIGH, "urgency": Level.LOW, "title": "x"}
    )
    ticket = fresh(ticket)
    assert ticket.priority == 3 and dues(ticket) == before and ticket.episode == 1
    assert not events_of(ticket, EventKind.SLA_CHANGED)


def test_matrix_change_reprioritises_with_new_due_times(clock, agent, customer, manager):
    ticket = new_ticket(agent, customer, 3)
    resolved = new_ticket(agent, customer, 3)
    move(resolved, agent, Status.RESOLVED)
    cells = [
        {"impact": i, "urgency": u, "priority": 1 if (i, u) == (Level.MEDIUM, Level.MEDIUM) else p}
        for (i, u), p in services.priority_matrix().items()
    ]
    services.priority_matrix_update(actor=manager, cells=cells)
    clock.move_to(at(2026, 3, 2, 10, 5))
    assert services.tickets_reprioritize(actor=manager) == 1
    ticket = fresh(ticket)
    assert ticket.priority == 1 and ticket.episode == 2
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (at(2026, 3, 2, 10, 15), at(2026, 3, 2, 14))
    [changed] = events_of(ticket, EventKind.SLA_CHANGED)
    assert changed.actor_id == manager.pk and changed.data["reason"] == "priority matrix changed"
    assert fresh(resolved).priority == 3 and not events_of(resolved, EventKind.SLA_CHANGED)


def test_priority_change_keeps_time_already_paused(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    clock.move_to(at(2026, 3, 2, 11))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 2, 13))
    move(ticket, agent, Status.OPEN)  # 2 h paused
    services.ticket_update(ticket=ticket, actor=agent, changes={"urgency": Level.HIGH})  # P2: 8 h + 2 h
    assert dues(ticket) == (at(2026, 3, 2, 11), at(2026, 3, 3, 12))


# --- pausing the resolution clock ------------------------------------------------------------------


def test_pending_pauses_and_resuming_extends_by_the_paused_working_time(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)  # due 14:00 / Thu 10:00
    move(ticket, agent, Status.OPEN)

    clock.move_to(at(2026, 3, 2, 11))
    move(ticket, agent, Status.PENDING)
    paused = fresh(ticket)
    assert paused.sla_paused_at == at(2026, 3, 2, 11)
    assert dues(ticket) == (at(2026, 3, 2, 14), at(2026, 3, 5, 10))  # not moved while pending
    assert paused.episode == 1
    assert not events_of(ticket, EventKind.SLA_CHANGED)

    clock.move_to(at(2026, 3, 2, 14))
    move(ticket, agent, Status.OPEN)
    resumed = fresh(ticket)
    assert resumed.sla_paused_at is None and resumed.sla_paused_seconds == 3 * HOUR
    # First response is not paused; resolution moves by exactly the 3 h paused.
    assert dues(ticket) == (at(2026, 3, 2, 14), at(2026, 3, 5, 13))
    assert resumed.episode == 2
    [changed] = events_of(ticket, EventKind.SLA_CHANGED)
    assert changed.actor_id == agent.pk and changed.data["reason"] == "resolution clock resumed"
    assert changed.data["before"]["resolution_due_at"] == "2026-03-05T10:00:00+00:00"
    assert changed.data["after"]["resolution_due_at"] == "2026-03-05T13:00:00+00:00"


def test_pause_across_a_weekend_counts_only_working_time(clock, agent, customer):
    clock.move_to(FRI)
    ticket = new_ticket(agent, customer, 3)  # 24 h: Fri 7 + Mon 8 + Tue 8 + Wed 1 -> Wed 10:00
    assert dues(ticket)[1] == at(2026, 3, 11, 10)
    clock.move_to(at(2026, 3, 6, 16))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 9, 10))  # Monday
    move(ticket, agent, Status.OPEN)
    assert fresh(ticket).sla_paused_seconds == 2 * HOUR  # Fri 16-17 and Mon 9-10
    assert dues(ticket)[1] == at(2026, 3, 11, 12)


def test_pause_with_a_custom_holiday(clock, agent, customer):
    BusinessCalendar.objects.update_or_create(pk=1, defaults={"holidays": ["2026-03-09"]})
    clock.move_to(FRI)
    ticket = new_ticket(agent, customer, 3)  # Fri 7 + (Mon off) Tue 8 + Wed 8 + Thu 1 -> Thu 10:00
    assert dues(ticket)[1] == at(2026, 3, 12, 10)
    clock.move_to(at(2026, 3, 6, 16))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 10, 10))  # Tuesday
    move(ticket, agent, Status.OPEN)
    assert fresh(ticket).sla_paused_seconds == 2 * HOUR  # Fri 16-17 and Tue 9-10; the holiday is free
    assert dues(ticket)[1] == at(2026, 3, 12, 12)


def test_round_the_clock_priority_pauses_in_wall_clock_time(clock, agent, customer):
    clock.move_to(at(2026, 3, 6, 15))
    ticket = new_ticket(agent, customer, 1)  # due 15:15 / 19:00 Friday
    clock.move_to(at(2026, 3, 6, 16))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 9, 10))
    move(ticket, agent, Status.OPEN)
    assert fresh(ticket).sla_paused_seconds == 66 * HOUR
    assert dues(ticket) == (at(2026, 3, 6, 15, 15), at(2026, 3, 9, 13))


def test_pause_outside_working_hours_moves_nothing(clock, agent, customer):
    clock.move_to(FRI)
    ticket = new_ticket(agent, customer, 3)
    before = dues(ticket)
    clock.move_to(at(2026, 3, 6, 17, 30))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 9, 8))
    move(ticket, agent, Status.OPEN)
    ticket = fresh(ticket)
    assert ticket.sla_paused_seconds == 0 and ticket.sla_paused_at is None
    assert dues(ticket) == before and ticket.episode == 1
    assert not events_of(ticket, EventKind.SLA_CHANGED)


def test_pauses_add_up(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    for start, end in ((11, 12), (13, 15)):
        clock.move_to(at(2026, 3, 2, start))
        move(ticket, agent, Status.PENDING)
        clock.move_to(at(2026, 3, 2, end))
        move(ticket, agent, Status.OPEN)
    ticket = fresh(ticket)
    assert ticket.sla_paused_seconds == 3 * HOUR
    assert ticket.resolution_due_at == at(2026, 3, 5, 13)
    assert ticket.episode == 3
    assert len(events_of(ticket, EventKind.SLA_CHANGED)) == 2


def test_resolved_then_reopened_extends_like_pending(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    move(ticket, agent, Status.OPEN)
    clock.move_to(at(2026, 3, 2, 11))
    move(ticket, agent, Status.RESOLVED)
    assert fresh(ticket).sla_paused_at == at(2026, 3, 2, 11)
    clock.move_to(at(2026, 3, 2, 15))
    move(ticket, agent, Status.OPEN)  # reopen
    ticket = fresh(ticket)
    assert ticket.resolved_at is None and ticket.resolution == ""
    assert ticket.sla_paused_seconds == 4 * HOUR and ticket.sla_paused_at is None
    assert ticket.resolution_due_at == at(2026, 3, 5, 14)
    assert ticket.episode == 2


def test_pending_then_resolved_then_reopened_pauses_once(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    move(ticket, agent, Status.OPEN)
    clock.move_to(at(2026, 3, 2, 11))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 2, 12))
    move(ticket, agent, Status.RESOLVED)
    assert fresh(ticket).sla_paused_at == at(2026, 3, 2, 11)  # still the first pause
    clock.move_to(at(2026, 3, 2, 14))
    move(ticket, agent, Status.OPEN)
    ticket = fresh(ticket)
    assert ticket.sla_paused_seconds == 3 * HOUR
    assert ticket.resolution_due_at == at(2026, 3, 5, 13)


def test_customer_reply_on_a_pending_ticket_resumes_the_clock(clock, agent, customer):
    ticket = new_ticket(agent, customer, 3)
    move(ticket, agent, Status.OPEN)
    clock.move_to(at(2026, 3, 2, 11))
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 2, 13))
    services.comment_create(ticket=ticket, actor=customer, body="Here is the log you asked for.")
    ticket = fresh(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.sla_paused_seconds == 2 * HOUR and ticket.resolution_due_at == at(2026, 3, 5, 12)
    [changed] = events_of(ticket, EventKind.SLA_CHANGED)
    assert changed.actor_id == customer.pk


# --- properties -------------------------------------------------------------------------------------

DEFAULT_CTX = SlaContext(
    policies={
        p: SlaPolicy(priority=p, first_response_minutes=r, resolution_minutes=s, business_hours=b)
        for p, (r, s, b) in DEFAULT_SLA.items()
    },
    calendar=OFFICE,
)

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC))


@st.composite
def calendars(draw) -> WorkingCalendar:
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    return WorkingCalendar.build(
        timezone=draw(
            st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
        ),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        day_start=time(start // 60, start % 60),
        day_end=time(end // 60, end % 60),
        holidays=draw(st.frozensets(st.dates(date(2020, 1, 1), date(2036, 12, 31)), max_size=30)),
    )


def _ctx(calendar: WorkingCalendar) -> SlaContext:
    return SlaContext(policies=DEFAULT_CTX.policies, calendar=calendar)


@hsettings(max_examples=200, deadline=None)
@given(created=instants, priority=st.integers(1, 5), paused=st.integers(0, 10**7), calendar=calendars())
def test_property_due_times_never_before_creation(created, priority, paused, calendar):
    ticket = Ticket(priority=priority, created_at=created, sla_paused_seconds=paused)
    response, resolution = due_times(ticket, _ctx(calendar))
    assert response >= created and resolution >= created
    assert resolution >= response  # every default resolution target is longer than the response one


@hsettings(max_examples=200, deadline=None)
@given(
    created=instants,
    priority=st.integers(1, 5),
    start=st.integers(0, 30 * 24 * HOUR),
    lengths=st.tuples(st.integers(0, 30 * 24 * HOUR), st.integers(0, 30 * 24 * HOUR)).map(sorted),
    calendar=calendars(),
)
def test_property_more_pause_never_makes_a_due_time_earlier(created, priority, start, lengths, calendar):
    ctx = _ctx(calendar)
    cal = ctx.calendar_for(priority)
    pause_from = created + timedelta(seconds=start)
    shorter, longer = (business_seconds_between(pause_from, pause_from + timedelta(seconds=n), cal) for n in lengths)
    assert 0 <= shorter <= longer
    unpaused = due_times(Ticket(priority=priority, created_at=created), ctx)
    short = due_times(Ticket(priority=priority, created_at=created, sla_paused_seconds=shorter), ctx)
    long = due_times(Ticket(priority=priority, created_at=created, sla_paused_seconds=longer), ctx)
    assert unpaused[0] == short[0] == long[0]  # the response clock never pauses
    assert unpaused[1] <= short[1] <= long[1]


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    created=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    priority=st.integers(1, 5),
    work=st.integers(0, 7 * 24 * HOUR),
    pause=st.integers(0, 14 * 24 * HOUR),
)
def test_property_pausing_a_real_ticket(agent, customer, created, priority, work, pause):
    """Through the services: a pause never moves the due time earlier, moves it by
    exactly the paused working time, and no due time is before creation."""
    with time_machine.travel(created, tick=False) as clock:
        ticket = new_ticket(agent, customer, priority)
        response, resolution = dues(ticket)
        assert response >= created and resolution >= created
        pause_from = created + timedelta(seconds=work)
        clock.move_to(pause_from)
        move(ticket, agent, Status.PENDING)
        clock.move_to(pause_from + timedelta(seconds=pause))
        move(ticket, agent, Status.OPEN)
    ticket = fresh(ticket)
    calendar = None if priority == 1 else OFFICE
    paused = business_seconds_between(pause_from, pause_from + timedelta(seconds=pause), calendar)
    assert ticket.sla_paused_seconds == paused
    assert ticket.first_response_due_at == response
    assert ticket.resolution_due_at >= resolution
    assert ticket.resolution_due_at == add_business_seconds(created, DEFAULT_SLA[priority][1] * 60 + paused, calendar)
    assert business_seconds_between(resolution, ticket.resolution_due_at, calendar) == paused


# --- the breach sweep -------------------------------------------------------------------------------


def breach_events(ticket: Ticket) -> list[tuple[str, str]]:
    return [(e.data["target"], e.data["due_at"]) for e in events_of(ticket, EventKind.SLA_BREACHED)]


def test_breaches_are_recorded_once_each(clock, agent, customer):
    ticket = new_ticket(agent, customer, 1)  # due 10:15 / 14:00
    other = new_ticket(agent, customer, 5)  # due days later
    version = fresh(ticket).version

    clock.move_to(at(2026, 3, 2, 10, 14, 59))
    assert sla_breaches_record() == 0
    assert not fresh(ticket).sla_breached

    clock.move_to(at(2026, 3, 2, 10, 16))
    assert sla_breaches_record() == 1
    t = fresh(ticket)
    assert t.sla_breached and t.response_breached_at == at(2026, 3, 2, 10, 16) and t.resolution_breached_at is None
    assert t.version == version + 1
    assert breach_events(ticket) == [("first_response", "2026-03-02T10:15:00+00:00")]
    assert all(e.actor_id is None for e in events_of(ticket, EventKind.SLA_BREACHED))

    clock.move_to(at(2026, 3, 2, 10, 30))
    assert sla_breaches_record() == 0
    assert len(breach_events(ticket)) == 1
    assert fresh(ticket).response_breached_at == at(2026, 3, 2, 10, 16)

    clock.move_to(at(2026, 3, 2, 14, 1))
    assert sla_breaches_record() == 1
    assert sla_breaches_record() == 0
    t = fresh(ticket)
    assert t.resolution_breached_at == at(2026, 3, 2, 14, 1) and t.response_breached_at == at(2026, 3, 2, 10, 16)
    assert breach_events(ticket) == [
        ("first_response", "2026-03-02T10:15:00+00:00"),
        ("resolution", "2026-03-02T14:00:00+00:00"),
    ]
    assert not fresh(other).sla_breached and not breach_events(other)


def test_both_breaches_in_one_sweep(clock, agent, customer):
    ticket = new_ticket(agent, customer, 1)
    assert sla_breaches_record(now=at(2026, 3, 2, 15)) == 2
    assert sla_breaches_record(now=at(2026, 3, 2, 16)) == 0
    assert sorted(target for target, _ in breach_events(ticket)) == ["first_response", "resolution"]


def test_pending_tickets_do_not_breach_on_resolution(clock, agent, customer):
    ticket = new_ticket(agent, customer, 1)  # due 10:15 / 14:00
    clock.move_to(at(2026, 3, 2, 10, 5))
    services.comment_create(ticket=ticket, actor=agent, body="Looking into it.")
    clock.move_to(at(2026, 3, 2, 10, 10))
    move(ticket, agent, Status.PENDING)

    clock.move_to(at(2026, 3, 2, 15))
    assert sla_breaches_record() == 0
    assert not fresh(ticket).sla_breached

    move(ticket, agent, Status.OPEN)  # paused 4 h 50 min -> due 18:50
    assert fresh(ticket).resolution_due_at == at(2026, 3, 2, 18, 50)
    clock.move_to(at(2026, 3, 2, 18, 49))
    assert sla_breaches_record() == 0
    clock.move_to(at(2026, 3, 2, 18, 51))
    assert sla_breaches_record() == 1
    assert breach_events(ticket) == [("resolution", "2026-03-02T18:50:00+00:00")]


def test_pending_ticket_without_any_answer_still_breaches_first_response(clock, agent, customer):
    ticket = new_ticket(agent, customer, 1)
    move(ticket, agent, Status.PENDING)
    clock.move_to(at(2026, 3, 2, 15))
    assert sla_breaches_record() == 1
    assert breach_events(ticket) == [("first_response", "2026-03-02T10:15:00+00:00")]


def test_first_response_before_due_prevents_the_response_breach(clock, agent, customer):
    answered = new_ticket(agent, customer, 1)
    internal_only = new_ticket(agent, customer, 1)
    customer_only = new_ticket(agent, customer, 1)
    clock.move_to(at(2026, 3, 2, 10, 14))
    services.comment_create(ticket=answered, actor=agent, body="We are on it.")
    services.comment_create(ticket=internal_only, actor=agent, body="Note to self.", internal=True)
    services.comment_create(ticket=customer_only, actor=customer, body="Any news?")
    assert fresh(answered).first_responded_at == at(2026, 3, 2, 10, 14)

    clock.move_to(at(2026, 3, 2, 10, 30))
    assert sla_breaches_record() == 2
    assert not fresh(answered).sla_breached and not breach_events(answered)
    assert [t for t, _ in breach_events(internal_only)] == ["first_response"]
    assert [t for t, _ in breach_events(customer_only)] == ["first_response"]


def test_done_tickets_never_breach(clock, agent, customer):
    resolved = new_ticket(agent, customer, 1)
    move(resolved, agent, Status.RESOLVED)
    closed = new_ticket(agent, customer, 1)
    move(closed, agent, Status.RESOLVED)
    move(closed, agent, Status.CLOSED)
    assert sla_breaches_record(now=at(2026, 3, 3, 10)) == 0
    assert not Ticket.objects.filter(sla_breached=True).exists()


# --- late answers are breaches even without a sweep in between -------------------------


def test_a_late_first_response_is_recorded_as_a_breach_at_once(clock, agent, customer):
    ticket = new_ticket(agent, customer, priority=1)  # first response due in 15 minutes
    clock.move_to(MON + timedelta(minutes=20))
    services.comment_create(ticket=ticket, actor=agent, body="Looking into it.")
    stored = fresh(ticket)
    assert stored.sla_breached and stored.response_breached_at == MON + timedelta(minutes=20)
    breaches = events_of(ticket, EventKind.SLA_BREACHED)
    assert [e.data["target"] for e in breaches] == ["first_response"]
    assert sla_breaches_record() == 0  # the sweep does not record it again


def test_an_answer_in_time_is_no_breach(clock, agent, customer):
    ticket = new_ticket(agent, customer, priority=1)
    clock.move_to(MON + timedelta(minutes=10))
    services.comment_create(ticket=ticket, actor=agent, body="Looking into it.")
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.RESOLVED, resolution="Done.")
    stored = fresh(ticket)
    assert not stored.sla_breached and stored.response_breached_at is None and stored.resolution_breached_at is None
    assert not events_of(ticket, EventKind.SLA_BREACHED)


def test_a_late_resolution_is_recorded_as_a_breach_at_once(clock, agent, customer):
    ticket = new_ticket(agent, customer, priority=1)  # resolution due in 4 hours, around the clock
    services.comment_create(ticket=ticket, actor=agent, body="Looking into it.")
    clock.move_to(MON + timedelta(hours=5))
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.RESOLVED, resolution="Done.")
    stored = fresh(ticket)
    assert stored.sla_breached and stored.resolution_breached_at == MON + timedelta(hours=5)
    assert [e.data["target"] for e in events_of(ticket, EventKind.SLA_BREACHED)] == ["resolution"]
