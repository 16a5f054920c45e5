"""Polling (docs/MONITORING.md "Polling"): the slot
grid, the dispatcher, one poll, failing sources, the poll lock and retention.

Polls go to real sources: the built-in simulator and a small local HTTP server
(or a closed port) for the json kind.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from monitoring import simulated_metrics, tasks
from monitoring.connectors import SourceError
from monitoring.models import Alert, AlertState, Monitor, MonitorState, Sample, SourceKind
from monitoring.services import alerts, polling, retention
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory
from monitoring.tests.helpers import T0, JsonServer
from tickets.models import Kind, Status, Ticket

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=f"needs PostgreSQL row locks across connections; the test database is {connection.vendor}",
)
CLOSED_PORT_URL = "http://127.0.0.1:1/metrics"  # nothing listens: refused at once
# The sources of these tests are servers of their own on 127.0.0.1 (the outbound policy refuses loopback, docs/RELIABILITY.md "Outbound requests").
pytestmark = pytest.mark.usefixtures("outbound_allow_loopback")


@pytest.fixture
def json_server() -> Iterator[JsonServer]:
    server = JsonServer(body={"value": 120})
    yield server
    server.stop()


# --- the slot grid ----------------------------------------------------------------------------


def test_next_slot_is_stable_per_monitor():
    after = datetime(2025, 3, 3, 10, 0, 7, 250_000, tzinfo=UTC)
    assert polling.next_slot(42, 60, after) == polling.next_slot(42, 60, after)
    # Later calls stay on the monitor's own second of the interval.
    slots = [polling.next_slot(42, 60, after + timedelta(seconds=s)) for s in range(0, 600, 7)]
    assert len({int(slot.timestamp()) % 60 for slot in slots}) == 1
    assert int(slots[0].timestamp()) % 60 == polling.poll_offset(42, 60)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    monitor_id=st.integers(min_value=1, max_value=2**62),
    interval=st.integers(min_value=5, max_value=86_400),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_next_slot_is_in_the_future_within_one_interval(monitor_id, interval, after):
    slot = polling.next_slot(monitor_id, interval, after)
    assert after < slot <= after + timedelta(seconds=interval)
    assert slot.microsecond == 0
    assert (int(slot.timestamp()) - polling.poll_offset(monitor_id, interval)) % interval == 0


def test_a_thousand_monitors_are_spread_over_the_interval():
    after = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)
    seconds = Counter(polling.next_slot(pk, 60, after) for pk in range(1, 1001))
    assert len(seconds) == 60  # every second of the minute is used
    assert max(seconds.values()) <= 40  # no second holds more than 4 % (fair share: 1.7 %)
    assert all(after < slot <= after + timedelta(seconds=60) for slot in seconds)


# --- the dispatcher -------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The poll tasks the dispatcher enqueues (instead of sending them)."""
    calls: list[dict] = []

    def record(task_name, **kwargs):
        calls.append({"task": task_name, **kwargs})
        return True

    monkeypatch.setattr(polling, "enqueue", record)
    return calls


@pytest.mark.django_db
def test_dispatch_picks_only_due_monitors_of_enabled_pull_sources(sent, django_capture_on_commit_callbacks):
    now = timezone.now()
    source = MetricSourceFactory(poll_interval_seconds=30)
    due = MonitorFactory(source=source, next_poll_at=now - timedelta(seconds=5))
    never = MonitorFactory(source=source, next_poll_at=None)
    MonitorFactory(source=source, next_poll_at=now + timedelta(hours=1))  # not yet
    MonitorFactory(source=source, next_poll_at=now - timedelta(seconds=5), enabled=False)
    MonitorFactory(source=MetricSourceFactory(enabled=False), next_poll_at=now - timedelta(seconds=5))
    for kind in (SourceKind.ALERTMANAGER, SourceKind.PUSH):
        MonitorFactory(source=MetricSourceFactory(kind=kind), next_poll_at=None)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        jobs = polling.monitors_dispatch_due(now=now)
        assert sent == []  # only after commit

    assert len(callbacks) == 1
    assert sorted(jobs) == sorted([(due.pk, (now - timedelta(seconds=5)).isoformat()), (never.pk, now.isoformat())])
    assert sorted((c["monitor_id"], c["scheduled_at"]) for c in sent) == sorted(jobs)
    assert {c["task"] for c in sent} == {"monitoring.poll_monitor"}
    assert all(c["fallback"] is False for c in sent)
    for monitor in (due, never):
        monitor.refresh_from_db()
        assert monitor.next_poll_at == polling.next_slot(monitor.pk, 30, now)
        assert now < monitor.next_poll_at <= now + timedelta(seconds=30)

    # Nothing is due any more: a second dispatch sends nothing.
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert polling.monitors_dispatch_due(now=now) == []
    assert sent == []

    # At their slots they are due again, scheduled for the slot itself.
    slots = {due.pk: due.next_poll_at, never.pk: never.next_poll_at}
    with django_capture_on_commit_callbacks(execute=True):
        jobs = polling.monitors_dispatch_due(now=max(slots.values()))
    assert sorted(jobs) == sorted((pk, slot.isoformat()) for pk, slot in slots.items())
    assert len(sent) == 2


@pytest.mark.django_db
def test_dispatch_limit_takes_the_most_overdue_first(sent, django_capture_on_commit_callbacks):
    now = timezone.now()
    monitors = [MonitorFactory(next_poll_at=now - timedelta(seconds=s)) for s in (1, 30, 10)]
    with django_capture_on_commit_callbacks(execute=True):
        jobs = polling.monitors_dispatch_due(now=now, limit=2)
    assert [pk for pk, _ in jobs] == [monitors[1].pk, monitors[2].pk]
    assert len(sent) == 2


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_dispatch_skips_monitors_locked_by_another_transaction(sent):
    now = timezone.now()
    free = MonitorFactory(next_poll_at=now - timedelta(seconds=1))
    held = MonitorFactory(next_poll_at=now - timedelta(seconds=1))
    locked, release, errors = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            with transaction.atomic():
                Monitor.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        assert locked.wait(10)
        started = datetime.now(UTC)
        jobs = polling.monitors_dispatch_due(now=now)
        assert (datetime.now(UTC) - started).total_seconds() < 5, "the dispatcher waited for the lock"
        assert [pk for pk, _ in jobs] == [free.pk]
        assert [c["monitor_id"] for c in sent] == [free.pk]
        held.refresh_from_db()
        assert held.next_poll_at == now - timedelta(seconds=1)  # untouched
    finally:
        release.set()
        thread.join(10)
    assert not errors

    # Released: the next dispatch takes it.
    jobs = polling.monitors_dispatch_due(now=now)
    assert [pk for pk, _ in jobs] == [held.pk]
    assert [c["monitor_id"] for c in sent] == [free.pk, held.pk]


@pytest.mark.django_db
def test_dispatch_with_eager_celery_polls_each_due_monitor_once(django_capture_on_commit_callbacks):
    """The real enqueue (tasks run in-process, conftest's eager Celery): one poll each."""
    now = timezone.now().replace(microsecond=0)
    monitors = [MonitorFactory(next_poll_at=now - timedelta(seconds=2)) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        polling.monitors_dispatch_due(now=now)
    for monitor in monitors:
        assert list(Sample.objects.filter(monitor=monitor).values_list("at", flat=True)) == [now - timedelta(seconds=2)]


# --- one poll -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_poll_with_the_simulator_records_a_sample_and_evaluates():
    source = MetricSourceFactory(kind=SourceKind.SIMULATOR, options={"seed": 42, "scenarios": []})
    monitor = MonitorFactory(source=source, query="avg_response_ms", warning=5000, critical=8000, outage=None)

    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "evaluated"

    expected = simulated_metrics.value(metric="avg_response_ms", at=T0, seed=42, scenarios=[])
    [sample] = Sample.objects.filter(monitor=monitor)
    assert (sample.at, sample.value, sample.in_alert) == (T0, expected, False)
    monitor.refresh_from_db()
    assert (monitor.state, monitor.last_value, monitor.evaluated_at) == (MonitorState.OK, expected, T0)
    assert monitor.poll_lock_until is None
    source.refresh_from_db()
    assert (source.last_polled_at, source.consecutive_failures) == (T0, 0)


@pytest.mark.django_db
def test_poll_task_with_a_simulated_step_fires_an_alert():
    scenario = {"type": "step", "metric": "avg_response_ms", "start": "2025-03-03T09:00:00+00:00", "delta": 5000}
    source = MetricSourceFactory(kind=SourceKind.SIMULATOR, options={"seed": 1, "scenarios": [scenario]})
    monitor = MonitorFactory(source=source, breach_polls=1, warning=500, critical=1000, outage=None)

    with time_machine.travel(T0, tick=False):  # the task drops polls queued too long ago
        result = tasks.poll_monitor.delay(monitor_id=monitor.pk, scheduled_at=T0.isoformat())

    assert result.get() == "evaluated"
    [alert] = Alert.objects.filter(monitor=monitor, state=AlertState.FIRING)
    assert alert.severity == "critical"
    assert alert.ticket.kind == Kind.INCIDENT


@pytest.mark.django_db
def test_a_stale_scheduled_at_is_not_polled(json_server):
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=json_server.url)
    monitor = MonitorFactory(source=source, query="value")
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "evaluated"
    assert json_server.hits == 1

    for late in (T0, T0 - timedelta(minutes=1)):
        assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=late) == "stale"
    assert json_server.hits == 1  # the source was not asked again
    assert Sample.objects.filter(monitor=monitor).count() == 1


@pytest.mark.django_db
def test_a_disabled_or_deleted_monitor_is_gone():
    monitor = MonitorFactory(enabled=False)
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "gone"
    assert polling.monitor_poll(monitor_id=monitor.pk + 1000, scheduled_at=T0) == "gone"


@pytest.mark.django_db
def test_a_held_poll_lock_makes_a_poll_busy_an_expired_one_does_not(json_server):
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=json_server.url)
    monitor = MonitorFactory(source=source, query="value")
    Monitor.objects.filter(pk=monitor.pk).update(poll_lock_until=timezone.now() + timedelta(seconds=10))
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "busy"
    assert json_server.hits == 0

    Monitor.objects.filter(pk=monitor.pk).update(poll_lock_until=timezone.now() - timedelta(seconds=1))
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "evaluated"
    assert Monitor.objects.get(pk=monitor.pk).poll_lock_until is None


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_second_poll_is_busy(json_server):
    json_server.delay = 1.0
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=json_server.url, timeout_seconds=5)
    monitor = MonitorFactory(source=source, query="value")
    now = timezone.now().replace(microsecond=0)
    results: list[str] = []

    def first_poll() -> None:
        try:
            results.append(polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=now))
        finally:
            connection.close()

    thread = threading.Thread(target=first_poll, daemon=True)
    thread.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while json_server.hits == 0 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.02)
    assert json_server.hits == 1, "the first poll never reached the source"
    held = Monitor.objects.get(pk=monitor.pk).poll_lock_until
    assert held is not None and held > timezone.now()

    # A second poll (another worker, a redelivery) while the first is in flight.
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=now + timedelta(seconds=5)) == "busy"
    thread.join(15)
    assert results == ["evaluated"]
    assert json_server.hits == 1
    monitor.refresh_from_db()
    assert (monitor.poll_lock_until, monitor.evaluated_at, monitor.last_value) == (None, now, 120)

    # The lock is released: the next poll goes through.
    json_server.delay = 0
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=now + timedelta(seconds=5)) == "evaluated"


# --- failing sources ----------------------------------------------------------------------------------


def source_alerts(source) -> list[Alert]:
    return list(Alert.objects.filter(fingerprint=alerts.source_fingerprint(source)))


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["closed port", "HTTP 500"])
def test_three_failed_polls_raise_one_source_alert_and_a_success_resolves_it(failure, json_server):
    if failure == "closed port":
        url = CLOSED_PORT_URL
    else:
        json_server.status, url = 500, json_server.url
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=url, timeout_seconds=2)
    first = MonitorFactory(source=source, query="value", breach_polls=1)
    second = MonitorFactory(source=source, query="value", breach_polls=1)
    other = MonitorFactory(breach_polls=1)  # another source

    at = T0
    for attempt in range(1, 6):
        at += timedelta(seconds=60)
        with pytest.raises(SourceError) as raised:
            polling.monitor_poll(monitor_id=(first if attempt % 2 else second).pk, scheduled_at=at)
        assert raised.value.retryable
        source.refresh_from_db()
        assert source.consecutive_failures == attempt
        assert source.last_error == str(raised.value)
        assert len(source_alerts(source)) == (0 if attempt < 3 else 1), attempt
        if attempt == 3:
            states = set(Monitor.objects.filter(source=source).values_list("state", flat=True))
            assert states == {MonitorState.NO_DATA}

    [alert] = source_alerts(source)
    assert (alert.state, alert.severity, alert.source_id, alert.monitor_id) == ("firing", "critical", source.pk, None)
    assert alert.started_at == T0 + timedelta(seconds=180)
    [ticket] = Ticket.objects.filter(kind=Kind.INCIDENT)
    assert alert.ticket_id == ticket.pk
    assert Monitor.objects.get(pk=other.pk).state == MonitorState.OK
    assert not Sample.objects.filter(monitor__source=source).exists()

    # The source answers again: the source alert resolves, the monitor evaluates.
    json_server.status = 200
    source.base_url = json_server.url
    source.save(update_fields=["base_url"])
    at += timedelta(seconds=60)
    assert polling.monitor_poll(monitor_id=first.pk, scheduled_at=at) == "evaluated"
    source.refresh_from_db()
    assert (source.consecutive_failures, source.last_error) == (0, "")
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_at) == (AlertState.RESOLVED, at)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    assert Monitor.objects.get(pk=first.pk).state == MonitorState.OK
    assert Alert.objects.count() == 1  # no monitor alert came out of the outage


@pytest.mark.django_db
def test_a_retried_poll_counts_as_one_failure():
    """The task retries a 5xx/timeout once; that is still one failed poll, so three
    failed polls (not two polls and their retries) raise the source alert."""
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=CLOSED_PORT_URL, timeout_seconds=2)
    monitor = MonitorFactory(source=source, query="value")

    for poll in range(1, 4):
        # Eager apply with throw=False runs the retry too, like a worker would; the
        # retry (the last attempt) propagates its error.
        scheduled = T0 + timedelta(minutes=poll)
        with pytest.raises(SourceError), time_machine.travel(scheduled, tick=False):
            tasks.poll_monitor.apply(
                kwargs={"monitor_id": monitor.pk, "scheduled_at": scheduled.isoformat()}, throw=False
            )
        source.refresh_from_db()
        assert source.consecutive_failures == poll
        assert len(source_alerts(source)) == (1 if poll == 3 else 0)


@pytest.mark.django_db
def test_a_configuration_error_is_not_retried_but_counts(json_server):
    json_server.status = 404
    source = MetricSourceFactory(kind=SourceKind.JSON, base_url=json_server.url)
    monitor = MonitorFactory(source=source, query="value")
    assert polling.monitor_poll(monitor_id=monitor.pk, scheduled_at=T0) == "error"
    scheduled = T0 + timedelta(minutes=1)
    with time_machine.travel(scheduled, tick=False):
        result = tasks.poll_monitor.apply(kwargs={"monitor_id": monitor.pk, "scheduled_at": scheduled.isoformat()})
    assert result.get() == "error"
    assert json_server.hits == 2  # no retry
    source.refresh_from_db()
    assert source.consecutive_failures == 2 and "HTTP 404" in source.last_error


# --- retention ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_poll_task_drops_a_poll_queued_behind_an_outage():
    source = MetricSourceFactory(kind=SourceKind.SIMULATOR, options={"seed": 1}, poll_interval_seconds=60)
    monitor = MonitorFactory(source=source)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        result = tasks.poll_monitor.apply(kwargs={"monitor_id": monitor.pk, "scheduled_at": T0.isoformat()})
    assert result.get() == "late"
    assert not Sample.objects.filter(monitor=monitor).exists()


@pytest.mark.django_db
def test_retention_purges_only_old_samples(settings):
    settings.HELPDESK_SAMPLE_RETENTION_DAYS = 30
    now = T0
    monitor = MonitorFactory()
    ages = [timedelta(days=90), timedelta(days=31), timedelta(days=30, seconds=1), timedelta(days=30),
            timedelta(days=29, hours=23), timedelta(0)]  # fmt: skip
    Sample.objects.bulk_create([Sample(monitor=monitor, at=now - age, value=1.0) for age in ages])

    assert retention.samples_purge(now=now, batch_size=2) == 3
    kept = sorted(now - at for at in Sample.objects.values_list("at", flat=True))
    assert kept == sorted(ages[3:])
    assert retention.samples_purge(now=now) == 0
