"""sla-policies/ and business-calendar/ (docs/PRODUCT.md "SLA policies and business calendar", docs/API.md "Configuration endpoints"): managers read and change the
targets and the working calendar; active tickets' due times follow in the background."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import time_machine

from tickets import services
from tickets.events import EventKind
from tickets.models import DEFAULT_SLA, BusinessCalendar, Level, SlaPolicy, Status
from tickets.tests.services_helpers import events_of, fresh

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
POLICIES = f"{V1}sla-policies/"
CALENDAR = f"{V1}business-calendar/"
MON = datetime(2026, 3, 2, 10, tzinfo=UTC)
LEVELS = {1: (Level.HIGH, Level.HIGH), 2: (Level.HIGH, Level.MEDIUM), 3: (Level.MEDIUM, Level.MEDIUM)}
CALENDAR_FIELDS = {
    "timezone",
    "working_days",
    "day_start",
    "day_end",
    "holiday_country",
    "holiday_subdivision",
    "holidays",
}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MON, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def defaults(db):
    """The seeded policies and calendar (a transactional test may have flushed them)."""
    for priority, (response, resolution, business) in DEFAULT_SLA.items():
        SlaPolicy.objects.update_or_create(
            priority=priority,
            defaults={"first_response_minutes": response, "resolution_minutes": resolution, "business_hours": business},
        )
    BusinessCalendar.objects.update_or_create(
        pk=1,
        defaults={
            "timezone": "UTC",
            "working_days": [0, 1, 2, 3, 4],
            "day_start": time(9),
            "day_end": time(17),
            "holiday_country": "",
            "holiday_subdivision": "",
            "holidays": [],
        },
    )


def create(agent, customer, priority: int):
    impact, urgency = LEVELS[priority]
    return services.ticket_create(actor=agent, requester=customer, title="Mail", impact=impact, urgency=urgency)


def stored_policies() -> list[tuple]:
    return list(
        SlaPolicy.objects.order_by("priority").values_list(
            "priority", "first_response_minutes", "resolution_minutes", "business_hours"
        )
    )


def stored_calendar() -> dict:
    row = BusinessCalendar.objects.get(pk=1)
    return {f: getattr(row, f) for f in CALENDAR_FIELDS}


# --- sla-policies/ ----------------------------------------------------------------------------------


def test_get_policies_shape(api, manager):
    r = api.as_(manager).get(POLICIES)
    assert r.status_code == 200
    assert set(r.data) == {"policies"} and len(r.data["policies"]) == 5
    assert [dict(p) for p in r.data["policies"]] == [
        {"priority": p, "first_response_minutes": resp, "resolution_minutes": res, "business_hours": business}
        for p, (resp, res, business) in sorted(DEFAULT_SLA.items())
    ]


def test_put_changes_targets_and_recomputes_active_tickets(
    api, manager, l3, customer, clock, django_capture_on_commit_callbacks
):
    p3_open = create(l3, customer, 3)
    services.ticket_transition(ticket=p3_open, actor=l3, status=Status.OPEN)
    p3_new = create(l3, customer, 3)
    p3_pending = create(l3, customer, 3)
    services.ticket_transition(ticket=p3_pending, actor=l3, status=Status.PENDING)
    p3_resolved = create(l3, customer, 3)
    services.ticket_transition(ticket=p3_resolved, actor=l3, status=Status.RESOLVED, resolution="Done.")
    p2 = create(l3, customer, 2)
    untouched = {
        t.pk: (fresh(t).first_response_due_at, fresh(t).resolution_due_at, fresh(t).version) for t in (p3_resolved, p2)
    }

    clock.move_to(at(2026, 3, 2, 10, 30))
    change = {"priority": 3, "first_response_minutes": 60, "resolution_minutes": 120, "business_hours": False}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(POLICIES, {"policies": [change]}, format="json")
    assert r.status_code == 200, r.data
    assert len(callbacks) == 1
    assert len(r.data["policies"]) == 5
    assert dict(r.data["policies"][2]) == change
    assert dict(r.data["policies"][1])["first_response_minutes"] == 60 and dict(r.data["policies"][1])["business_hours"]
    assert stored_policies()[2] == (3, 60, 120, False)

    for t in (p3_open, p3_new, p3_pending):
        before = fresh(t)
        assert (before.first_response_due_at, before.resolution_due_at) == (at(2026, 3, 2, 11), at(2026, 3, 2, 12))
        assert before.episode == t.episode + 1
        [changed] = events_of(t, EventKind.SLA_CHANGED)
        assert changed.actor_id is None and changed.data["reason"] == "SLA configuration changed"
        assert changed.data["before"] == {
            "first_response_due_at": "2026-03-02T14:00:00+00:00",
            "resolution_due_at": "2026-03-05T10:00:00+00:00",
        }
        assert changed.data["after"] == {
            "first_response_due_at": "2026-03-02T11:00:00+00:00",
            "resolution_due_at": "2026-03-02T12:00:00+00:00",
        }
    for t in (p3_resolved, p2):
        now = fresh(t)
        assert (now.first_response_due_at, now.resolution_due_at, now.version) == untouched[t.pk]
        assert not events_of(t, EventKind.SLA_CHANGED)

    # New tickets use the new targets at once.
    assert (fresh(create(l3, customer, 3)).resolution_due_at) == at(2026, 3, 2, 12, 30)


def test_put_several_policies(api, manager):
    body = {
        "policies": [
            {"priority": 1, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": False},
            {"priority": 5, "first_response_minutes": 2880, "resolution_minutes": 9600, "business_hours": True},
        ]
    }
    r = api.as_(manager).put(POLICIES, body, format="json")
    assert r.status_code == 200, r.data
    assert stored_policies()[0] == (1, 5, 60, False) and stored_policies()[4] == (5, 2880, 9600, True)
    assert stored_policies()[1:4] == [(p, *DEFAULT_SLA[p]) for p in (2, 3, 4)]


BAD_POLICIES = [
    {"policies": [{"priority": 6, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": True}]},
    {"policies": [{"priority": 0, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": True}]},
    {"policies": [{"priority": 2, "first_response_minutes": 0, "resolution_minutes": 60, "business_hours": True}]},
    {"policies": [{"priority": 2, "first_response_minutes": -5, "resolution_minutes": 60, "business_hours": True}]},
    {"policies": [{"priority": 2, "first_response_minutes": "soon", "resolution_minutes": 60, "business_hours": True}]},
    {"policies": [{"priority": 2, "first_response_minutes": 5, "resolution_minutes": 10**12, "business_hours": True}]},
    {"policies": [{"priority": 2, "first_response_minutes": 5, "resolution_minutes": 60}]},
    {"policies": [{"priority": 2, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": "often"}]},
    {
        "policies": [
            {"priority": 2, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": True},
            {"priority": 2, "first_response_minutes": 9, "resolution_minutes": 90, "business_hours": True},
        ]
    },
    {
        "policies": [
            {"priority": p, "first_response_minutes": 5, "resolution_minutes": 60, "business_hours": True}
            for p in (1, 2, 3, 4, 5, 1)
        ]
    },
    {"policies": []},
    {"policies": "all of them"},
    {"policies": [None]},
    {},
    [1, 2],
]


@pytest.mark.parametrize("body", BAD_POLICIES)
def test_bad_policies_are_400_and_change_nothing(api, manager, body, django_capture_on_commit_callbacks):
    before = stored_policies()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(POLICIES, body, format="json")
    assert r.status_code == 400, r.data
    assert callbacks == []
    assert stored_policies() == before


@pytest.mark.parametrize("who", ["l1", "l2", "l3", "customer"])
def test_policies_are_for_managers_only(api, request, who):
    client = api.as_(request.getfixturevalue(who))
    before = stored_policies()
    assert client.get(POLICIES).status_code == 403
    body = {"policies": [{"priority": 1, "first_response_minutes": 1, "resolution_minutes": 2, "business_hours": True}]}
    assert client.put(POLICIES, body, format="json").status_code == 403
    assert api.as_(None).get(POLICIES).status_code == 401
    assert api.as_(None).put(POLICIES, body, format="json").status_code == 401
    assert stored_policies() == before


# --- business-calendar/ -----------------------------------------------------------------------------


def test_get_calendar_shape(api, manager):
    r = api.as_(manager).get(CALENDAR)
    assert r.status_code == 200
    assert r.data == {
        "timezone": "UTC",
        "working_days": [0, 1, 2, 3, 4],
        "day_start": "09:00",
        "day_end": "17:00",
        "holiday_country": "",
        "holiday_subdivision": "",
        "holidays": [],
    }


def test_put_full_calendar(api, manager, django_capture_on_commit_callbacks):
    body = {
        "timezone": "Europe/Berlin",
        "working_days": [3, 0, 1, 2, 1],
        "day_start": "08:00",
        "day_end": "16:30",
        "holiday_country": "DE",
        "holiday_subdivision": "BY",
        "holidays": ["2026-12-31", "2026-12-24", "2026-12-24"],
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(CALENDAR, body, format="json")
    assert r.status_code == 200, r.data
    assert len(callbacks) == 1
    expected = {
        **body,
        "working_days": [0, 1, 2, 3],
        "holidays": ["2026-12-24", "2026-12-31"],
    }
    assert r.data == expected
    assert api.as_(manager).get(CALENDAR).data == expected
    row = stored_calendar()
    assert (row["timezone"], row["day_start"], row["day_end"], row["holiday_country"]) == (
        "Europe/Berlin",
        time(8),
        time(16, 30),
        "DE",
    )


def test_partial_put_keeps_the_rest(api, manager):
    r = api.as_(manager).put(CALENDAR, {"day_end": "18:00"}, format="json")
    assert r.status_code == 200, r.data
    assert r.data["day_end"] == "18:00" and r.data["day_start"] == "09:00" and r.data["working_days"] == [0, 1, 2, 3, 4]


def test_calendar_change_recomputes_business_hours_tickets(
    api, manager, l3, customer, clock, django_capture_on_commit_callbacks
):
    p3 = create(l3, customer, 3)  # due 14:00 / Thu 10:00
    p1 = create(l3, customer, 1)  # around the clock: the calendar does not matter
    with django_capture_on_commit_callbacks(execute=True):
        r = api.as_(manager).put(CALENDAR, {"holidays": ["2026-03-03"]}, format="json")
    assert r.status_code == 200, r.data
    # Mon 7 h, Tuesday off, Wed 8, Thu 8, Fri 1 -> Friday 10:00.
    assert (fresh(p3).first_response_due_at, fresh(p3).resolution_due_at) == (at(2026, 3, 2, 14), at(2026, 3, 6, 10))
    [changed] = events_of(p3, EventKind.SLA_CHANGED)
    assert changed.actor_id is None and changed.data["after"]["resolution_due_at"] == "2026-03-06T10:00:00+00:00"
    assert fresh(p3).episode == 2
    assert (fresh(p1).resolution_due_at, fresh(p1).episode) == (at(2026, 3, 2, 14), 1)
    assert not events_of(p1, EventKind.SLA_CHANGED)


BAD_CALENDARS = [
    ("timezone", {"timezone": "Mars/Olympus"}),
    ("timezone", {"timezone": ""}),
    ("timezone", {"timezone": "../../etc/passwd"}),
    ("timezone", {"timezone": "x" * 100}),
    ("timezone", {"timezone": 5}),
    ("holiday_country", {"holiday_country": "XX"}),
    ("holiday_country", {"holiday_country": "Atlantis"}),
    ("holiday_subdivision", {"holiday_country": "DE", "holiday_subdivision": "ZZ"}),
    ("holiday_subdivision", {"holiday_subdivision": "BY"}),  # needs a country
    ("day_end", {"day_start": "09:00", "day_end": "09:00"}),
    ("day_end", {"day_start": "17:00", "day_end": "08:00"}),
    ("day_end", {"day_end": "08:59"}),
    ("day_start", {"day_start": "25:00"}),
    ("day_start", {"day_start": "nine"}),
    ("working_days", {"working_days": []}),
    ("working_days", {"working_days": [7]}),
    ("working_days", {"working_days": [-1]}),
    ("working_days", {"working_days": "mon"}),
    ("working_days", {"working_days": [1] * 8}),
    ("holidays", {"holidays": ["2026-02-30"]}),
    ("holidays", {"holidays": "2026-01-01"}),
    ("holidays", {"holidays": ["Christmas"]}),
]


@pytest.mark.parametrize("field, body", BAD_CALENDARS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_CALENDARS)])
def test_bad_calendars_are_400_and_change_nothing(api, manager, field, body, django_capture_on_commit_callbacks):
    before = stored_calendar()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(CALENDAR, body, format="json")
    assert r.status_code == 400, r.data
    assert field in r.data
    assert callbacks == []
    assert stored_calendar() == before


@pytest.mark.parametrize("who", ["l1", "l2", "l3", "customer"])
def test_calendar_is_for_managers_only(api, request, who):
    client = api.as_(request.getfixturevalue(who))
    before = stored_calendar()
    assert client.get(CALENDAR).status_code == 403
    assert client.put(CALENDAR, {"timezone": "Europe/Paris"}, format="json").status_code == 403
    assert api.as_(None).put(CALENDAR, {"timezone": "Europe/Paris"}, format="json").status_code == 401
    assert stored_calendar() == before
