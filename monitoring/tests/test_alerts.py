"""The alert engine and incident tickets (docs/MONITORING.md "Alerts", "Incident tickets").

Readings go through ``alerts.reading_record`` (what a poll or a pushed sample
does); Alertmanager payloads through ``push.alertmanager_ingest``. Time is frozen
and moved explicitly, so every reading has its own instant and the ticket
services' ``timezone.now()`` agrees with it. The concurrency tests use real
threads, each with its own PostgreSQL connection.
"""

from __future__ import annotations

import math
from datetime import timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from helpdesk.errors import NotAllowed
from helpdesk.roles import Role
from helpdesk.testing.threads import run_in_threads
from helpdesk.tests.factories import UserFactory
from monitoring.models import Alert, AlertState, MonitorState, Sample, SourceKind
from monitoring.services import alerts, push
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory, SilenceFactory
from monitoring.tests.helpers import T0, Clock
from tickets import services
from tickets.events import EventKind
from tickets.models import Comment, Kind, Level, Status, Ticket, TicketEvent
from tickets.selectors import scoped
from tickets.tests.factories import TicketFactory

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=f"needs PostgreSQL row locks across connections; the test database is {connection.vendor}",
)


@pytest.fixture
def clock(time_machine) -> Clock:
    return Clock(time_machine)


def feed(monitor, value, clock: Clock, seconds: float = 60) -> alerts.Outcome:
    """One reading, one minute (by default) after the previous one."""
    return alerts.reading_record(monitor_id=monitor.pk, value=value, at=clock.tick(seconds))


def firing(monitor) -> list[Alert]:
    return list(Alert.objects.filter(monitor=monitor, state=AlertState.FIRING))


def incidents() -> list[Ticket]:
    return list(Ticket.objects.filter(kind=Kind.INCIDENT).order_by("id"))


def notes(ticket: Ticket) -> list[str]:
    return list(Comment.objects.filter(ticket=ticket, internal=True).order_by("id").values_list("body", flat=True))


def refreshed(obj):
    obj.refresh_from_db()
    return obj


# --- static thresholds, hysteresis ----------------------------------------------------------


@pytest.mark.django_db
def test_hysteresis_one_breach_is_not_an_alert_two_are_one_alert(clock):
    monitor = MonitorFactory(breach_polls=2, recover_polls=2)  # warning 500

    first = feed(monitor, 600, clock)
    assert (first.status, first.state, first.action, first.alert_id) == ("evaluated", "warning", "hold", None)
    assert Alert.objects.count() == 0
    assert refreshed(monitor).breach_count == 1

    # A single normal poll in between restarts the streak: no flapping into an alert.
    feed(monitor, 100, clock)
    feed(monitor, 600, clock)
    assert Alert.objects.count() == 0

    fired = feed(monitor, 650, clock)
    assert fired.action == "fire"
    [alert] = firing(monitor)
    assert fired.alert_id == alert.pk
    assert (alert.severity, alert.last_value, alert.started_at) == ("warning", 650, clock.now)
    assert len(incidents()) == 1

    # Further breaches are the same episode.
    for value in (700, 620, 610):
        assert feed(monitor, value, clock).alert_id == alert.pk
    assert Alert.objects.count() == 1
    assert refreshed(alert).last_value == 610

    # recover_polls=2: one normal poll does not resolve, a breach resets the streak.
    assert feed(monitor, 100, clock).alert_id == alert.pk
    assert feed(monitor, 600, clock).alert_id == alert.pk
    assert feed(monitor, 100, clock).alert_id == alert.pk
    assert refreshed(alert).state == AlertState.FIRING
    resolved_at = clock.now + timedelta(seconds=60)
    outcome = feed(monitor, 90, clock)
    assert (outcome.action, outcome.alert_id, outcome.state) == ("resolve", None, "ok")
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_at) == (AlertState.RESOLVED, resolved_at)
    assert Alert.objects.count() == 1
    assert len(incidents()) == 1


@pytest.mark.django_db
def test_direction_below_breaches_under_the_threshold(clock):
    monitor = MonitorFactory(
        query="satisfaction", unit="", direction="below", warning=0.8, critical=0.5, outage=0.1, breach_polls=1
    )
    assert feed(monitor, 0.9, clock).state == MonitorState.OK
    assert feed(monitor, 0.4, clock).action == "fire"
    assert firing(monitor)[0].severity == "critical"


@pytest.mark.django_db
def test_severity_rises_while_firing_with_notes_and_raised_levels(clock):
    app = ApplicationFactory(criticality=Level.LOW, owner_tier=2)
    monitor = MonitorFactory(application=app, breach_polls=2, recover_polls=2)

    feed(monitor, 600, clock)
    feed(monitor, 600, clock)
    [alert] = firing(monitor)
    [ticket] = incidents()
    assert (alert.severity, ticket.urgency, ticket.impact, ticket.priority) == ("warning", "medium", "low", 4)

    # Critical: a note, urgency high; impact stays the application's criticality.
    outcome = feed(monitor, 1500, clock)
    assert (outcome.state, outcome.alert_id) == ("critical", alert.pk)
    assert refreshed(alert).severity == "critical"
    ticket.refresh_from_db()
    assert (ticket.urgency, ticket.impact, ticket.priority) == ("high", "low", 3)
    assert any("Severity rose from warning to critical" in body for body in notes(ticket))

    # Outage: a note, impact high too -> priority 1.
    feed(monitor, 7000, clock)
    assert refreshed(alert).severity == "outage"
    ticket.refresh_from_db()
    assert (ticket.urgency, ticket.impact, ticket.priority) == ("high", "high", 1)
    assert any("Severity rose from critical to outage" in body for body in notes(ticket))

    # Going back down to warning keeps the alert at its worst severity, and adds no note.
    count = len(notes(ticket))
    feed(monitor, 600, clock)
    assert refreshed(alert).severity == "outage"
    assert len(notes(ticket)) == count

    raised = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.UPDATED).order_by("id")
    assert [(e.actor_id, e.data["after"]) for e in raised] == [(None, {"urgency": "high"}), (None, {"impact": "high"})]
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.PRIORITY_CHANGED).count() == 2
    # Still one alert, one incident.
    assert Alert.objects.count() == 1
    assert len(incidents()) == 1


@pytest.mark.django_db
def test_stale_reading_is_dropped(clock):
    monitor = MonitorFactory(breach_polls=1)
    earlier = clock.tick()
    later = clock.tick()
    assert alerts.reading_record(monitor_id=monitor.pk, value=100, at=later).status == "evaluated"

    # An older reading (a late retry) and a repeat of the same instant are both stale.
    for at in (earlier, later):
        outcome = alerts.reading_record(monitor_id=monitor.pk, value=9000, at=at)
        assert outcome.status == "stale"
    monitor.refresh_from_db()
    assert (monitor.last_value, monitor.evaluated_at, monitor.state) == (100, later, MonitorState.OK)
    assert list(Sample.objects.filter(monitor=monitor).values_list("at", "value")) == [(later, 100)]
    assert Alert.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_no_data_is_a_state_not_an_alert(clock, value):
    monitor = MonitorFactory(breach_polls=1)
    for _ in range(3):
        outcome = feed(monitor, value, clock)
        assert (outcome.status, outcome.state) == ("no_data", MonitorState.NO_DATA)
    monitor.refresh_from_db()
    assert monitor.state == MonitorState.NO_DATA
    assert monitor.evaluated_at == clock.now
    assert not Sample.objects.filter(monitor=monitor).exists()
    assert Alert.objects.count() == 0
    assert incidents() == []


# --- dynamic baselines ---------------------------------------------------------------------


def dynamic_monitor(**extra):
    options = {
        "baseline_kind": "dynamic",
        "warning": None,
        "critical": None,
        "outage": None,
        "window_minutes": 20,
        "min_samples": 10,
        "sensitivity": 3.0,
        "breach_polls": 1,
        "recover_polls": 1,
    }
    return MonitorFactory(**{**options, **extra})


def normal(i: int) -> float:
    return 100.0 + (i % 5) - 2  # 98..102


@pytest.mark.django_db
def test_dynamic_baseline_learns_silently_then_a_spike_fires(clock):
    # Window 20 min: learning until min_samples (10) values span 80 % of it, and
    # the cached band (5 min) has caught up: polls 1..20 at one a minute.
    monitor = dynamic_monitor()

    for i in range(20):
        outcome = feed(monitor, 10_000.0 if i == 3 else normal(i), clock)
        assert (outcome.status, outcome.state, outcome.action) == ("evaluated", MonitorState.LEARNING, "hold"), i
    assert Alert.objects.count() == 0

    # Enough history: the band is live.
    for i in range(20, 25):
        assert feed(monitor, normal(i), clock).state == MonitorState.OK, i
    band = refreshed(monitor).baseline
    assert band["learning"] is False and 90 <= band["lower"] < band["center"] < band["upper"] <= 110

    outcome = feed(monitor, 1000.0, clock)
    assert outcome.action == "fire"
    [alert] = firing(monitor)
    assert alert.severity == "outage"  # far beyond 2.5 half-widths
    assert alert.snapshot["band"]["learning"] is False
    fired_at = clock.now

    # Samples taken while the alert fires are stored with in_alert and not learned from:
    # ten more minutes at 1000 (two baseline recomputations) do not make 1000 normal.
    for _ in range(10):
        assert feed(monitor, 1000.0, clock).alert_id == alert.pk
    samples = dict(Sample.objects.filter(monitor=monitor).values_list("at", "in_alert"))
    assert samples[fired_at] is True
    assert all(flag for at, flag in samples.items() if at > fired_at)
    assert not any(flag for at, flag in samples.items() if at < fired_at)
    monitor.refresh_from_db()
    assert monitor.baseline["upper"] < 110
    assert monitor.baseline_computed_at > fired_at
    assert firing(monitor) == [alert]

    # Back to normal: resolved (recover_polls=1).
    assert feed(monitor, 100.0, clock).action == "resolve"
    assert refreshed(alert).state == AlertState.RESOLVED


@pytest.mark.django_db
def test_a_dynamic_alert_outlasting_its_window_keeps_firing(clock):
    """Once the window holds only samples taken while firing there is nothing to
    compare with: that is not a recovery, the alert and its incident stay."""
    monitor = dynamic_monitor()
    Sample.objects.bulk_create(
        [Sample(monitor=monitor, at=clock.now - timedelta(minutes=m), value=normal(m)) for m in range(0, 30)]
    )
    assert feed(monitor, 1000.0, clock).action == "fire"
    [alert] = firing(monitor)

    for minute in range(40):  # twice the window
        outcome = feed(monitor, 1000.0, clock)
        assert (outcome.action, outcome.alert_id) == ("hold", alert.pk), minute
    assert refreshed(alert).state == AlertState.FIRING
    assert refreshed(alert.ticket).status == Status.NEW
    # Judged against the band it fired on: a normal value recovers it.
    assert feed(monitor, normal(0), clock).action == "resolve"
    assert refreshed(alert.ticket).status == Status.RESOLVED


@pytest.mark.django_db
def test_cached_baseline_is_not_recomputed_on_every_poll(clock, monkeypatch):
    monitor = dynamic_monitor()
    start = clock.now
    Sample.objects.bulk_create(
        [Sample(monitor=monitor, at=start - timedelta(minutes=m), value=normal(m)) for m in range(1, 100)]
    )
    computed = []
    real = alerts.compute_band
    monkeypatch.setattr(alerts, "compute_band", lambda m, at: computed.append(at) or real(m, at))

    feed(monitor, 100, clock)
    first = clock.now
    assert computed == [first]
    assert refreshed(monitor).baseline_computed_at == first

    # Polls within five minutes use the cached band: no recomputation, no history scan.
    for _ in range(4):
        feed(monitor, 101, clock)
        assert refreshed(monitor).baseline_computed_at == first
    assert computed == [first]

    feed(monitor, 99, clock)  # five minutes later
    assert computed == [first, clock.now]
    assert refreshed(monitor).baseline_computed_at == clock.now


@pytest.mark.django_db
def test_a_poll_with_a_cached_baseline_costs_a_bounded_number_of_queries(clock, django_assert_max_num_queries):
    monitor = dynamic_monitor()
    Sample.objects.bulk_create(
        [Sample(monitor=monitor, at=clock.now - timedelta(minutes=m), value=normal(m)) for m in range(1, 100)]
    )
    feed(monitor, 100, clock)
    # lock monitor, firing alert, insert sample, silences skipped (no fire), save monitor (+ savepoint)
    with django_assert_max_num_queries(6):
        feed(monitor, 100, clock)


# --- silences ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["monitor", "application", "global"])
def test_silence_mutes_new_alerts_until_it_ends(clock, scope):
    monitor = MonitorFactory(breach_polls=1)
    sibling = MonitorFactory(application=monitor.application, breach_polls=1)
    stranger = MonitorFactory(breach_polls=1)  # another application
    silence = SilenceFactory(
        monitor=monitor if scope == "monitor" else None,
        application=monitor.application if scope == "application" else None,
        starts_at=clock.now,
        ends_at=clock.now + timedelta(minutes=10),
    )
    muted = {"monitor": {monitor}, "application": {monitor, sibling}, "global": {monitor, sibling, stranger}}[scope]

    for _ in range(3):
        for m in (monitor, sibling, stranger):
            outcome = alerts.reading_record(monitor_id=m.pk, value=800, at=clock.now + timedelta(seconds=1))
            assert outcome.state == MonitorState.WARNING
        clock.tick()
    alerted = {a.monitor for a in Alert.objects.all()}
    assert alerted == {monitor, sibling, stranger} - muted
    assert len(incidents()) == len(alerted)

    # After ends_at the next breach fires.
    clock.tick((silence.ends_at - clock.now).total_seconds())
    for m in muted:
        assert feed(m, 800, clock, seconds=1).action == "fire"
    assert {a.monitor for a in Alert.objects.filter(state=AlertState.FIRING)} == {monitor, sibling, stranger}


@pytest.mark.django_db
def test_a_silence_in_the_future_does_not_mute(clock):
    monitor = MonitorFactory(breach_polls=1)
    SilenceFactory(monitor=monitor, starts_at=clock.now + timedelta(hours=1))
    assert feed(monitor, 800, clock).action == "fire"
    assert len(firing(monitor)) == 1


# --- recovery and incident tickets ------------------------------------------------------------


@pytest.mark.django_db
def test_recovery_resolves_the_alert_and_auto_resolves_the_incident(clock):
    monitor = MonitorFactory(breach_polls=1, recover_polls=2)
    feed(monitor, 600, clock)
    feed(monitor, 1500, clock)  # a severity note and raised urgency: system work, not human
    [alert] = firing(monitor)
    ticket = alert.ticket
    assert ticket.status == Status.NEW

    feed(monitor, 100, clock)
    assert refreshed(ticket).status == Status.NEW
    feed(monitor, 100, clock)
    assert refreshed(alert).state == AlertState.RESOLVED
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolution == f"Recovered automatically: {monitor.name}."
    assert any(body.startswith("Recovered at") for body in notes(ticket))
    change = TicketEvent.objects.get(ticket=ticket, kind=EventKind.STATUS_CHANGED)
    assert (change.actor_id, change.data["after"]) == (None, {"status": "resolved"})


@pytest.mark.django_db
@pytest.mark.parametrize("work", ["assigned", "commented"])
def test_recovery_leaves_an_incident_a_human_worked_open(clock, work, l2):
    monitor = MonitorFactory(breach_polls=1, recover_polls=1)
    feed(monitor, 600, clock)
    [alert] = firing(monitor)
    if work == "assigned":
        services.ticket_assign(ticket=alert.ticket, actor=l2, assignee=l2)
    else:
        services.comment_create(ticket=alert.ticket, actor=l2, body="Looking at the database.", internal=True)
    status = refreshed(alert.ticket).status

    feed(monitor, 100, clock)
    assert refreshed(alert).state == AlertState.RESOLVED
    ticket = refreshed(alert.ticket)
    assert ticket.status == status != Status.RESOLVED
    assert any(body.startswith("Recovered at") for body in notes(ticket))


@pytest.mark.django_db
def test_refire_within_an_hour_reopens_the_same_ticket_later_a_new_one(clock):
    monitor = MonitorFactory(breach_polls=1, recover_polls=1)
    feed(monitor, 600, clock)
    feed(monitor, 100, clock)
    [ticket] = incidents()
    assert ticket.status == Status.RESOLVED

    # 59 minutes after the recovery: a new alert, the same ticket reopened.
    clock.tick(58 * 60)
    feed(monitor, 700, clock)
    second = firing(monitor)[0]
    assert Alert.objects.count() == 2
    assert second.ticket_id == ticket.pk
    assert incidents() == [ticket]
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert any(body.startswith("Fired again") for body in notes(ticket))
    feed(monitor, 100, clock)
    assert refreshed(ticket).status == Status.RESOLVED

    # More than an hour after the last recovery: a new ticket.
    clock.tick(61 * 60)
    feed(monitor, 700, clock)
    third = firing(monitor)[0]
    assert third.ticket_id not in (None, ticket.pk)
    assert len(incidents()) == 2
    assert refreshed(ticket).status == Status.RESOLVED


@pytest.mark.django_db
def test_a_refire_while_the_incident_is_still_open_reuses_it_however_late(clock, l2):
    """One open ticket per dedup key: an incident a human kept open gets the
    re-fire as a note, even hours after the recovery."""
    monitor = MonitorFactory(breach_polls=1, recover_polls=1)
    feed(monitor, 600, clock)
    [ticket] = incidents()
    services.ticket_assign(ticket=ticket, actor=l2, assignee=l2)
    feed(monitor, 100, clock)
    assert refreshed(ticket).status == Status.OPEN  # a human worked it: not auto-resolved

    clock.tick(3 * 3600)
    feed(monitor, 1500, clock)
    assert incidents() == [ticket]
    assert firing(monitor)[0].ticket_id == ticket.pk
    assert any(body.startswith("Fired again") for body in notes(ticket))
    assert refreshed(ticket).urgency == Level.HIGH  # critical now


@pytest.mark.django_db
def test_a_closed_incident_is_final_for_the_alert_engine_too(clock, l2):
    """A human resolved the incident while the alert still fired, and it closed:
    severity changes and the recovery add nothing to it; a re-fire opens a new one."""
    monitor = MonitorFactory(breach_polls=1, recover_polls=1)
    feed(monitor, 600, clock)
    [ticket] = incidents()
    services.ticket_transition(ticket=ticket, actor=l2, status=Status.RESOLVED, resolution="Worked around it.")
    services.tickets_autoclose(days=0)
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    before = (
        ticket.version,
        ticket.urgency,
        ticket.impact,
        ticket.priority,
        Comment.objects.filter(ticket=ticket).count(),
    )

    feed(monitor, 9000, clock)  # outage while firing
    feed(monitor, 100, clock)  # recovered
    ticket.refresh_from_db()
    after = (
        ticket.version,
        ticket.urgency,
        ticket.impact,
        ticket.priority,
        Comment.objects.filter(ticket=ticket).count(),
    )
    assert after == before
    assert ticket.status == Status.CLOSED

    feed(monitor, 700, clock)
    assert len(incidents()) == 2
    assert firing(monitor)[0].ticket_id != ticket.pk


@pytest.mark.django_db
def test_a_reopened_incident_takes_the_severity_of_the_new_alert(clock):
    """A warning incident that re-fires as an outage is an outage incident."""
    app = ApplicationFactory(criticality=Level.LOW)
    monitor = MonitorFactory(application=app, breach_polls=1, recover_polls=1)
    feed(monitor, 600, clock)
    feed(monitor, 100, clock)
    [ticket] = incidents()
    assert (ticket.urgency, ticket.impact) == ("medium", "low")

    feed(monitor, 9000, clock)  # outage
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert (ticket.urgency, ticket.impact, ticket.priority) == ("high", "high", 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "severity", "urgency", "impact"),
    [(700, "warning", "medium", "low"), (1500, "critical", "high", "low"), (6000, "outage", "high", "high")],
)
def test_the_incident_ticket(clock, settings, value, severity, urgency, impact):
    settings.HELPDESK_TIERS = 2
    app = ApplicationFactory(criticality=Level.LOW, owner_tier=3)  # capped at the last tier in use
    monitor = MonitorFactory(application=app, breach_polls=1)
    for v in (200, 210, 220):
        feed(monitor, v, clock)
    feed(monitor, value, clock)

    [alert] = firing(monitor)
    [ticket] = incidents()
    assert alert.ticket_id == ticket.pk
    assert alert.severity == severity
    assert (ticket.kind, ticket.tier, ticket.application_id) == (Kind.INCIDENT, 2, app.pk)
    assert (ticket.urgency, ticket.impact) == (urgency, impact)
    assert ticket.requester.username == settings.HELPDESK_SYSTEM_USERNAME
    assert ticket.requester == services.system_user()
    assert ticket.assignee_id is None and ticket.status == Status.NEW
    assert monitor.name in ticket.title and severity.upper() in ticket.title

    snapshot = alert.snapshot
    assert [point[1] for point in snapshot["series"]] == [200, 210, 220, value]
    assert snapshot["series"][-1][0] == clock.now.isoformat()
    assert snapshot["band"]["upper"] == 500 and snapshot["band"]["lower"] is None
    assert snapshot["thresholds"] == {"warning": 500, "critical": 1000, "outage": 5000}
    assert snapshot["taken_at"] == clock.now.isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(("criticality", "owner_tier"), [("high", 1), ("medium", 2), ("low", 3)])
def test_incident_impact_is_the_criticality_and_tier_the_owner_tier(clock, criticality, owner_tier):
    monitor = MonitorFactory(
        application=ApplicationFactory(criticality=criticality, owner_tier=owner_tier), breach_polls=1
    )
    feed(monitor, 700, clock)
    [ticket] = incidents()
    assert (ticket.impact, ticket.tier) == (criticality, owner_tier)


# --- concurrency --------------------------------------------------------------------------------


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_readings_make_one_alert_and_one_ticket():
    monitor = MonitorFactory(breach_polls=1)
    base = timezone.now()

    outcomes = run_in_threads(
        20, lambda i: alerts.reading_record(monitor_id=monitor.pk, value=2000.0 + i, at=base + timedelta(seconds=i))
    )

    assert {o.status for o in outcomes} <= {"evaluated", "stale"}
    assert sum(o.action == "fire" for o in outcomes) == 1
    [alert] = Alert.objects.all()
    assert alert.state == AlertState.FIRING
    [ticket] = incidents()
    assert alert.ticket_id == ticket.pk
    evaluated = sum(o.status == "evaluated" for o in outcomes)
    assert Sample.objects.filter(monitor=monitor).count() == evaluated
    assert {o.alert_id for o in outcomes if o.status == "evaluated"} == {alert.pk}


def am_payload(slug: str, status: str = "firing", fingerprint: str = "4f1c2a9e0b7d3c11") -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "application": slug, "instance": "web-1"},
        "annotations": {"summary": "More than 5 % of requests fail."},
        "startsAt": "2025-03-03T09:58:00Z",
        "endsAt": "2025-03-03T10:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=errors",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "helpdesk",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


@pytest.mark.django_db
def test_the_same_alertmanager_payload_a_hundred_times_is_one_alert_and_one_ticket():
    app = ApplicationFactory(criticality=Level.MEDIUM)
    source = MetricSourceFactory(kind=SourceKind.ALERTMANAGER, options={})

    counts = [push.alertmanager_ingest(source=source, payload=am_payload(app.slug)) for _ in range(100)]

    assert counts[0] == {"opened": 1, "repeated": 0, "resolved": 0, "ignored": 0}
    assert all(c == {"opened": 0, "repeated": 1, "resolved": 0, "ignored": 0} for c in counts[1:])
    [alert] = Alert.objects.all()
    [ticket] = incidents()
    assert (alert.application, alert.severity, alert.ticket_id) == (app, "critical", ticket.pk)
    assert (ticket.urgency, ticket.impact) == ("high", "medium")

    # The resolved notification resolves it (twice is still once), and the incident with it.
    for _ in range(2):
        push.alertmanager_ingest(source=source, payload=am_payload(app.slug, status="resolved"))
    assert refreshed(alert).state == AlertState.RESOLVED
    assert refreshed(ticket).status == Status.RESOLVED
    assert Alert.objects.count() == 1


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_alertmanager_deliveries_are_one_alert_and_one_ticket():
    app = ApplicationFactory()
    source = MetricSourceFactory(kind=SourceKind.ALERTMANAGER, options={})

    counts = run_in_threads(10, lambda i: push.alertmanager_ingest(source=source, payload=am_payload(app.slug)))

    assert sum(c["opened"] for c in counts) == 1
    assert sum(c["repeated"] for c in counts) == 9
    [alert] = Alert.objects.all()
    [ticket] = incidents()
    assert alert.ticket_id == ticket.pk


# --- customer tickets meet incidents --------------------------------------------------------------


@pytest.fixture
def open_incident(clock):
    app = ApplicationFactory(criticality=Level.LOW)
    monitor = MonitorFactory(application=app, breach_polls=1)
    feed(monitor, 700, clock)  # warning: urgency medium, impact low
    return firing(monitor)[0].ticket


@pytest.mark.django_db
def test_linked_customer_tickets_raise_the_incident_impact(open_incident, settings):
    settings.HELPDESK_INCIDENT_IMPACT_LINKS = 3
    agent = UserFactory(role=Role.L1)
    incident = open_incident
    assert (incident.impact, incident.urgency, incident.priority) == ("low", "medium", 4)
    customers = [
        TicketFactory(application=incident.application, requester=UserFactory(role=Role.CUSTOMER)) for _ in range(3)
    ]

    for done, child in enumerate(customers[:2], start=1):
        services.ticket_update(ticket=child, actor=agent, changes={"parent": incident})
        incident.refresh_from_db()
        assert (incident.linked_count, incident.impact) == (done, "low")
    assert not TicketEvent.objects.filter(ticket=incident, kind=EventKind.UPDATED).exists()

    services.ticket_update(ticket=customers[2], actor=agent, changes={"parent": incident})
    incident.refresh_from_db()
    assert (incident.linked_count, incident.impact, incident.priority) == (3, "high", 2)
    [raised] = TicketEvent.objects.filter(ticket=incident, kind=EventKind.UPDATED)
    assert raised.actor_id == agent.pk
    assert raised.data == {
        "before": {"impact": "low"},
        "after": {"impact": "high"},
        "reason": "3 customer tickets linked",
    }
    linked = TicketEvent.objects.filter(ticket=incident, kind=EventKind.CHILD_LINKED)
    assert sorted(e.data["child"] for e in linked) == sorted(c.pk for c in customers)
    assert set(Ticket.objects.filter(parent=incident).values_list("pk", flat=True)) == {c.pk for c in customers}


@pytest.mark.django_db
def test_incident_resolve_linked_resolves_them_with_one_public_message(open_incident):
    agent = UserFactory(role=Role.L2)
    incident = open_incident
    children = [TicketFactory(application=incident.application) for _ in range(2)]
    for child in children:
        services.ticket_update(ticket=child, actor=agent, changes={"parent": incident})
    done_child = TicketFactory(application=incident.application)
    services.ticket_update(ticket=done_child, actor=agent, changes={"parent": incident})
    services.ticket_transition(ticket=done_child, actor=agent, status=Status.RESOLVED, resolution="Duplicate.")
    bystander = TicketFactory(application=incident.application)

    message = "The payment service is back; thank you for your patience."
    resolved = services.incident_resolve_linked(incident=incident, actor=agent, message=message)

    assert sorted(resolved) == sorted(c.pk for c in children)
    for child in children:
        child.refresh_from_db()
        assert (child.status, child.resolution) == (Status.RESOLVED, message)
        [comment] = Comment.objects.filter(ticket=child)
        assert (comment.body, comment.internal, comment.author_id) == (message, False, agent.pk)
    assert not Comment.objects.filter(ticket=done_child).exists()
    assert refreshed(done_child).resolution == "Duplicate."
    assert refreshed(bystander).status == Status.NEW
    assert not Comment.objects.filter(ticket=bystander).exists()


@pytest.mark.django_db
def test_open_incidents_for_lists_the_open_incident_of_the_application(clock, open_incident):
    incident = open_incident
    other = MonitorFactory(breach_polls=1)
    feed(other, 700, clock)
    TicketFactory(application=incident.application)  # a customer ticket is not an incident

    assert list(scoped.open_incidents_for(application_id=incident.application_id)) == [incident]
    assert list(scoped.open_incidents_for(application_id=ApplicationFactory().pk)) == []

    # Recovered and auto-resolved: nothing to link to any more.
    alert = Alert.objects.get(ticket=incident)
    feed(alert.monitor, 100, clock)
    feed(alert.monitor, 100, clock)
    assert refreshed(incident).status == Status.RESOLVED
    assert list(scoped.open_incidents_for(application_id=incident.application_id)) == []


@pytest.mark.django_db
def test_incident_resolve_linked_is_all_or_nothing(open_incident):
    """A linked ticket the actor may not work (escalated to tier 3) refuses the
    whole action: no customer got the message on a ticket left open."""
    agent = UserFactory(role=Role.L2)
    incident = open_incident
    children = [TicketFactory(application=incident.application) for _ in range(2)]
    for child in children:
        services.ticket_update(ticket=child, actor=agent, changes={"parent": incident})
    services.ticket_escalate(ticket=children[1], actor=None, to_tier=3, reason="Needs the architects.")

    with pytest.raises(NotAllowed):
        services.incident_resolve_linked(incident=incident, actor=agent, message="Fixed, sorry for the trouble.")

    assert not Comment.objects.filter(ticket__in=children).exists()
    assert {refreshed(c).status for c in children} == {Status.NEW}


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_incident_resolve_linked_twice_at_once_sends_one_message_per_ticket():
    app = ApplicationFactory()
    agent = UserFactory(role=Role.L2)
    incident = TicketFactory(application=app, kind=Kind.INCIDENT, major=True, tier=2)
    children = [TicketFactory(application=app) for _ in range(3)]
    for child in children:
        services.ticket_update(ticket=child, actor=agent, changes={"parent": incident})

    results = run_in_threads(
        2, lambda i: services.incident_resolve_linked(incident=incident.pk, actor=agent, message="Back to normal.")
    )

    assert sorted(pk for result in results for pk in result) == sorted(c.pk for c in children)
    for child in children:
        assert Comment.objects.filter(ticket=child).count() == 1
        assert refreshed(child).status == Status.RESOLVED


@pytest.mark.django_db
@pytest.mark.parametrize("offset_hours", [0, 2, -5])
def test_a_seasonal_band_is_learned_from_the_same_utc_hour_of_the_week_whatever_the_offset(offset_hours):
    """Readings may carry any UTC offset (pushed samples keep theirs); the slot is
    the hour of the week in UTC, as in baselines.seasonal_band."""
    at = T0 + timedelta(minutes=30)  # Monday 10:30 UTC
    monitor = dynamic_monitor(seasonal=True, window_minutes=60, min_samples=10)
    history = [
        Sample(monitor=monitor, at=T0 - timedelta(weeks=week) + timedelta(minutes=5 * i), value=100.0 + i % 3)
        for week in range(1, 5)
        for i in range(12)
    ]
    # The last hour was busier than usual for a Monday 10:00.
    history += [Sample(monitor=monitor, at=at - timedelta(minutes=m), value=500.0) for m in range(1, 60, 5)]
    Sample.objects.bulk_create(history)

    local = at.astimezone(dt_timezone(timedelta(hours=offset_hours)))
    band = alerts.compute_band(monitor, local)

    assert band.seasonal is True
    assert 99 <= band.center <= 102
    assert alerts.current_band(monitor, local).seasonal is True
    assert monitor.baseline["slot"] == "0-10"
