"""The reads and writes behind the monitoring pages: chart series, overviews,
monitor and snapshot charts, ending silences."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from helpdesk.errors import Conflict, InvalidInput
from monitoring import selectors
from monitoring.baselines import Band
from monitoring.models import AlertState, MonitorState, Sample, Severity, Silence
from monitoring.monitor_charts import monitor_chart, snapshot_chart
from monitoring.services import config
from monitoring.services.alerts import chart_snapshot, static_band
from monitoring.tests.factories import AlertFactory, MonitorFactory, SilenceFactory
from monitoring.tests.helpers import T0

SVG = "{http://www.w3.org/2000/svg}"


def store(monitor, *pairs: tuple[timedelta, float]) -> None:
    Sample.objects.bulk_create(Sample(monitor=monitor, at=T0 + offset, value=value) for offset, value in pairs)


# --- chart series ---------------------------------------------------------------------------


def test_series_keep_the_worst_value_of_each_bucket_by_direction(db):
    above = MonitorFactory(direction="above")
    below = MonitorFactory(direction="below", query="satisfaction", unit="")
    seconds = [timedelta(seconds=s) for s in (0, 20, 40, 60)]
    store(above, *zip(seconds, [10.0, 50.0, 30.0, 5.0], strict=True))
    store(below, *zip(seconds, [0.9, 0.4, 0.8, 0.95], strict=True))
    series = selectors.monitor_series(monitors=[above, below], since=T0, until=T0 + timedelta(hours=1))
    assert series[above.pk] == [(T0, 50.0), (T0 + timedelta(minutes=1), 5.0)]
    assert series[below.pk] == [(T0, 0.4), (T0 + timedelta(minutes=1), 0.95)]


def test_series_cover_the_window_and_bucket_by_hour(db):
    monitor = MonitorFactory()
    store(monitor, (timedelta(minutes=-1), 999.0), (timedelta(minutes=5), 1.0), (timedelta(minutes=50), 3.0),
          (timedelta(hours=1, minutes=10), 2.0), (timedelta(hours=2), 777.0))  # fmt: skip
    series = selectors.monitor_series(monitors=[monitor], since=T0, until=T0 + timedelta(hours=2), bucket="hour")
    assert series[monitor.pk] == [(T0, 3.0), (T0 + timedelta(hours=1), 2.0)]
    assert selectors.monitor_series(monitors=[], since=T0, until=T0) == {}
    with pytest.raises(ValueError):
        selectors.monitor_series(monitors=[monitor], since=T0, until=T0, bucket="fortnight")


# --- overviews ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("worst", "no_data", "state"),
    [
        (None, False, MonitorState.OK),
        (None, True, MonitorState.NO_DATA),
        (Severity.WARNING, True, MonitorState.WARNING),
        (Severity.CRITICAL, False, MonitorState.CRITICAL),
        (Severity.OUTAGE, False, MonitorState.CRITICAL),
    ],
)
def test_health_state_is_the_worst_of_what_fires_then_missing_data(worst, no_data, state):
    assert selectors.health_state(worst_severity=worst, no_data=no_data) == state


def test_overviews_count_only_what_is_firing_and_ignore_disabled_monitors(db):
    monitor = MonitorFactory()
    application = monitor.application
    AlertFactory(monitor=monitor, severity=Severity.OUTAGE)
    AlertFactory(monitor=MonitorFactory(application=application), state=AlertState.RESOLVED)
    MonitorFactory(application=application, state=MonitorState.NO_DATA, enabled=False)
    (overview,) = selectors.application_overviews([application])
    assert (overview.state, overview.firing_alerts, overview.open_incidents) == ("critical", 1, 0)
    assert overview.score.grade in "ABCDF"
    assert selectors.application_overviews([]) == []


def test_alert_list_refuses_junk_filters(db):
    with pytest.raises(InvalidInput) as error:
        selectors.alert_list(filters={"severity": "dire"})
    assert "severity" in error.value.detail


# --- monitor and snapshot charts ----------------------------------------------------------------


def test_a_dynamic_monitor_is_drawn_with_its_band_a_learning_one_without(db):
    band = Band(lower=10.0, upper=30.0, center=20.0, spread=3.0, min_width=1.0, samples=99)
    monitor = MonitorFactory(baseline_kind="dynamic", baseline=band.as_dict())
    points = [(T0 + timedelta(minutes=i), 20.0 + i) for i in range(5)]
    drawn = ET.fromstring(monitor_chart(monitor, points, start=T0, end=T0 + timedelta(hours=1)))
    assert drawn.find(f"{SVG}polygon").get("class") == "band"
    assert not [line for line in drawn.iter(f"{SVG}line") if "threshold" in (line.get("class") or "")]
    monitor.baseline = {**band.as_dict(), "learning": True}
    learning = ET.fromstring(monitor_chart(monitor, points, start=T0, end=T0 + timedelta(hours=1)))
    assert learning.find(f"{SVG}polygon") is None


def test_the_snapshot_kept_with_an_alert_draws_as_it_was(db, time_machine):
    time_machine.move_to(T0 + timedelta(hours=1), tick=False)
    monitor = MonitorFactory(name="Checkout </svg>", warning=500.0, critical=1000.0)
    store(monitor, *[(timedelta(minutes=i), 100.0 + 10 * i) for i in range(30)])
    snapshot = chart_snapshot(monitor, T0 + timedelta(minutes=29), static_band(monitor))
    root = ET.fromstring(snapshot_chart(snapshot, title=monitor.name))
    assert root.find(f"{SVG}title").text == "Checkout </svg>"
    assert "30 samples" in root.get("aria-label") and "latest 390 ms" in root.get("aria-label")
    classes = {line.get("class") for line in root.iter(f"{SVG}line")}
    assert {"threshold-warning", "threshold-critical"} <= classes
    broken = ET.fromstring(snapshot_chart({"series": [["not a time", "x"], None]}, title="t"))
    assert broken.get("aria-label") == "t: no data for this period."


# --- ending silences ------------------------------------------------------------------------


def test_ending_a_silence_in_force_keeps_it_with_an_end_of_now(db, manager):
    silence = SilenceFactory(starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1))
    kept = config.silence_expire(silence=silence, now=T0)
    assert kept is not None and kept.ends_at == T0
    silence.refresh_from_db()
    assert silence.ends_at == T0


def test_ending_an_upcoming_silence_withdraws_it_and_an_ended_one_is_a_conflict(db, manager):
    upcoming = SilenceFactory(starts_at=T0 + timedelta(hours=1))
    assert config.silence_expire(silence=upcoming, now=T0) is None
    assert not Silence.objects.filter(pk=upcoming.pk).exists()
    ended = SilenceFactory(starts_at=T0 - timedelta(hours=2), ends_at=T0 - timedelta(hours=1))
    with pytest.raises(Conflict):
        config.silence_expire(silence=ended, now=T0)
