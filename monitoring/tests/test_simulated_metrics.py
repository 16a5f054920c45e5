"""The built-in simulator: deterministic, realistic, and its scenarios do what they say."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitoring.baselines import dynamic_band, dynamic_severity, hysteresis
from monitoring.simulated_metrics import METRICS, SimulatedSourceError, demo_scenarios, validate_scenarios, value

MONDAY = datetime(2025, 1, 6, tzinfo=UTC)
SEED = 7
# The direction in which each metric is bad.
BAD_DIRECTION = {
    "satisfaction": "below",
    "avg_response_ms": "above",
    "requests_per_minute": "below",
    "error_rate": "above",
    "cpu_pct": "above",
    "memory_pct": "above",
}
REALISTIC = {
    "satisfaction": (0.85, 1.0),
    "avg_response_ms": (180, 420),
    "requests_per_minute": (100, 2000),
    "error_rate": (0.15, 1.0),
    "cpu_pct": (20, 60),
    "memory_pct": (40, 70),
}


def every(start: datetime, *, step: timedelta, count: int) -> list[datetime]:
    return [start + i * step for i in range(count)]


WEEK_EVERY_5_MIN = every(MONDAY, step=timedelta(minutes=5), count=7 * 288)


# --- determinism and realism ----------------------------------------------------


def test_the_metric_vocabulary_is_retraces():
    assert {"satisfaction", "avg_response_ms", "requests_per_minute", "error_rate", "cpu_pct", "memory_pct"} == METRICS
    assert set(REALISTIC) == set(METRICS) == set(BAD_DIRECTION)


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_same_inputs_same_value_and_seeds_differ(metric):
    times = every(MONDAY, step=timedelta(seconds=37), count=200)
    first = [value(metric, at, SEED) for at in times]
    assert first == [value(metric, at, SEED) for at in times]
    other_seed = [value(metric, at, SEED + 1) for at in times]
    assert sum(a != b for a, b in zip(first, other_seed, strict=True)) > 150


def test_value_depends_on_the_second_not_finer_and_naive_means_utc():
    at = datetime(2025, 3, 4, 15, 16, 17, tzinfo=UTC)
    assert value("cpu_pct", at, SEED) == value("cpu_pct", at.replace(microsecond=999_999), SEED)
    assert value("cpu_pct", at, SEED) == value("cpu_pct", at.replace(tzinfo=None), SEED)
    paris = at.astimezone(timezone(timedelta(hours=1)))
    assert value("cpu_pct", paris, SEED) == value("cpu_pct", at, SEED)


def test_unknown_metric_is_none():
    assert value("queue_depth", MONDAY, SEED) is None
    # Even while the source is down: an unknown name is a configuration matter.
    assert value("queue_depth", MONDAY, SEED, [{"type": "source_error", "start": MONDAY.isoformat()}]) is None


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_a_week_stays_in_realistic_ranges(metric):
    low, high = REALISTIC[metric]
    values = [value(metric, at, SEED) for at in WEEK_EVERY_5_MIN]
    assert low <= min(values) and max(values) <= high
    assert len(set(values)) > 100  # noise, not a handful of levels


def test_satisfaction_sits_around_0_93():
    values = [value("satisfaction", at, SEED) for at in WEEK_EVERY_5_MIN]
    assert 0.92 <= statistics.fmean(values) <= 0.95


@pytest.mark.parametrize(
    ("metric", "busier_is_higher"),
    [("requests_per_minute", True), ("cpu_pct", True), ("avg_response_ms", True), ("satisfaction", False)],
)
def test_daily_wave_busy_afternoon_quiet_night(metric, busier_is_higher):
    def hour_mean(hour: int) -> float:
        times = [MONDAY + timedelta(days=d, hours=hour, minutes=m) for d in range(7) for m in range(0, 60, 5)]
        return statistics.fmean(value(metric, at, SEED) for at in times)

    night, afternoon = hour_mean(3), hour_mean(15)
    assert (afternoon > night) == busier_is_higher
    if metric == "requests_per_minute":
        assert afternoon > 5 * night


# --- the wave is normal, a spike is not --------------------------------------------


@dataclass
class Run:
    actions: list[tuple[datetime, str]]  # (poll time, "fire" | "resolve")
    evaluated: int  # polls judged against a band that was no longer learning


def run_dynamic_monitor(
    metric: str,
    times: list[datetime],
    *,
    direction: str,
    scenarios: list[dict] | None = None,
    seed: int = SEED,
    window: timedelta = timedelta(hours=24),
    min_samples: int = 240,
    recover_polls: int = 2,
) -> Run:
    """What a dynamic monitor (MAD, sensitivity 3, fire after 2 breaching polls) does
    over ``times``. The window is ``[at - window, at)``; samples taken while firing
    are not learned from. ``min_samples`` defaults to most of a day of five-minute
    samples: a cyclic metric needs (nearly) a whole cycle of history before its band
    means anything, and a few samples missing after an alert must not silence it."""
    history: deque[tuple[datetime, float]] = deque()
    firing, breach_count, ok_count = False, 0, 0
    run = Run(actions=[], evaluated=0)
    for at in times:
        number = value(metric, at, seed, scenarios)
        while history and history[0][0] < at - window:
            history.popleft()
        band = dynamic_band([v for _, v in history], sensitivity=3, method="mad", min_samples=min_samples)
        run.evaluated += not band.learning
        severity = dynamic_severity(value=number, band=band, direction=direction, sensitivity=3)
        action, breach_count, ok_count = hysteresis(
            breach_count=breach_count,
            ok_count=ok_count,
            severity=severity,
            firing=firing,
            breach_polls=2,
            recover_polls=recover_polls,
        )
        if action == "fire":
            firing = True
            run.actions.append((at, action))
        elif action == "resolve":
            firing = False
            run.actions.append((at, action))
        if not firing:
            history.append((at, number))
    return run


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("direction", ["above", "below"])
def test_the_daily_wave_raises_no_alert_on_a_dynamic_baseline(metric, direction):
    run = run_dynamic_monitor(metric, WEEK_EVERY_5_MIN, direction=direction)
    assert run.actions == []
    assert run.evaluated >= len(WEEK_EVERY_5_MIN) - 240  # judged all week long, not silently learning


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_wave_is_quiet_for_other_seeds_too(seed):
    assert run_dynamic_monitor("avg_response_ms", WEEK_EVERY_5_MIN, direction="above", seed=seed).actions == []


def test_a_five_sigma_spike_fires_and_then_resolves():
    start = MONDAY + timedelta(days=4, hours=14)
    spike = [
        {
            "type": "spike",
            "metric": "avg_response_ms",
            "start": start.isoformat(),
            "duration_seconds": 20 * 60,
            "factor": 3,
        }
    ]
    # It is a 5-sigma spike against the day before it.
    day_before = [value("avg_response_ms", start - timedelta(minutes=5 * i), SEED) for i in range(1, 289)]
    band = dynamic_band(day_before, sensitivity=1, min_samples=288)
    assert all(
        value("avg_response_ms", start + timedelta(minutes=m), SEED, spike) > band.center + 5 * band.spread
        for m in range(0, 20, 5)
    )

    actions = run_dynamic_monitor("avg_response_ms", WEEK_EVERY_5_MIN, direction="above", scenarios=spike).actions
    assert actions == [(start + timedelta(minutes=5), "fire"), (start + timedelta(minutes=25), "resolve")]


def test_the_demo_spike_fires_within_minutes_and_recovers():
    now = datetime(2025, 5, 14, 10, 0, 0, tzinfo=UTC)
    scenarios = demo_scenarios(now)
    # A day of minute samples before the demo starts, then polls every minute.
    times = every(now - timedelta(days=1), step=timedelta(minutes=1), count=24 * 60 + 30)
    actions = run_dynamic_monitor(
        "avg_response_ms", times, direction="above", scenarios=scenarios, min_samples=1000
    ).actions
    assert [action for _, action in actions] == ["fire", "resolve"]
    fired_at, resolved_at = actions[0][0], actions[1][0]
    assert now + timedelta(minutes=3) <= fired_at <= now + timedelta(minutes=5)
    assert now + timedelta(minutes=13) <= resolved_at <= now + timedelta(minutes=15)


def test_demo_scenarios_shape():
    now = datetime(2025, 5, 14, 10, 0, 0, 123456)
    [spike] = demo_scenarios(now)
    validate_scenarios([spike])
    assert spike["type"] == "spike" and spike["metric"] == "avg_response_ms"
    assert datetime.fromisoformat(spike["start"]) == datetime(2025, 5, 14, 10, 3, tzinfo=UTC)
    assert spike["duration_seconds"] == 600
    during = value("avg_response_ms", datetime(2025, 5, 14, 10, 8, tzinfo=UTC), SEED, [spike])
    assert 550 <= during <= 1100


# --- each scenario ------------------------------------------------------------------

START = datetime(2025, 1, 8, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def plain(metric: str, seconds: float) -> float:
    return value(metric, at(seconds), SEED)


def test_spike_multiplies_for_its_duration_only():
    spike = [
        {"type": "spike", "metric": "avg_response_ms", "start": START.isoformat(), "duration_seconds": 300, "factor": 4}
    ]
    for seconds in (-1, 300, 301, 3600):
        assert value("avg_response_ms", at(seconds), SEED, spike) == plain("avg_response_ms", seconds)
    for seconds in (0, 1, 150, 299):
        spiked = value("avg_response_ms", at(seconds), SEED, spike)
        assert spiked == pytest.approx(4 * plain("avg_response_ms", seconds), abs=0.5)
    # Other metrics are untouched.
    assert value("cpu_pct", at(10), SEED, spike) == plain("cpu_pct", 10)


def test_step_adds_from_start_onwards_or_for_its_duration():
    open_ended = [{"type": "step", "metric": "cpu_pct", "start": START.isoformat(), "delta": 25}]
    bounded = [{**open_ended[0], "duration_seconds": 600}]
    assert value("cpu_pct", at(-1), SEED, open_ended) == plain("cpu_pct", -1)
    for seconds in (0, 600, 86_400 * 30):
        assert value("cpu_pct", at(seconds), SEED, open_ended) == pytest.approx(plain("cpu_pct", seconds) + 25)
    assert value("cpu_pct", at(599), SEED, bounded) == pytest.approx(plain("cpu_pct", 599) + 25)
    assert value("cpu_pct", at(600), SEED, bounded) == plain("cpu_pct", 600)


def test_outage_takes_the_application_down():
    outage = [{"type": "outage", "start": START.isoformat(), "duration_seconds": 900}]
    for seconds in (0, 450, 899):
        moment = at(seconds)
        assert value("satisfaction", moment, SEED, outage) <= 0.05
        assert value("error_rate", moment, SEED, outage) >= 50
        assert value("avg_response_ms", moment, SEED, outage) >= 10_000
        assert value("requests_per_minute", moment, SEED, outage) <= 5
        assert value("cpu_pct", moment, SEED, outage) == plain("cpu_pct", seconds)
    for metric in METRICS:
        assert value(metric, at(900), SEED, outage) == plain(metric, 900)


def test_outage_can_be_limited_to_one_metric_and_overrides_a_spike():
    scenarios = [
        {"type": "spike", "metric": "error_rate", "start": START.isoformat(), "factor": 2},
        {"type": "outage", "metric": "error_rate", "start": START.isoformat()},
    ]
    assert value("error_rate", at(5), SEED, scenarios) >= 85
    assert value("satisfaction", at(5), SEED, scenarios) == plain("satisfaction", 5)


def test_flapping_alternates_every_period():
    flapping = [
        {
            "type": "flapping",
            "metric": "avg_response_ms",
            "start": START.isoformat(),
            "duration_seconds": 600,
            "period_seconds": 60,
            "factor": 3,
        }
    ]

    def flapped(seconds: int) -> bool:
        return value("avg_response_ms", at(seconds), SEED, flapping) > 2 * plain("avg_response_ms", seconds)

    assert [flapped(s) for s in (0, 59, 60, 119, 120, 179, 180, 599, 600)] == [
        True,
        True,
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]


def test_flapping_with_a_delta_and_the_default_period():
    flapping = [{"type": "flapping", "metric": "error_rate", "start": START.isoformat(), "delta": 5}]
    assert value("error_rate", at(30), SEED, flapping) == pytest.approx(plain("error_rate", 30) + 5)
    assert value("error_rate", at(90), SEED, flapping) == plain("error_rate", 90)
    assert value("error_rate", at(150), SEED, flapping) == pytest.approx(plain("error_rate", 150) + 5)


def test_hysteresis_rides_out_flapping():
    """A metric flapping every minute, polled every 30 s: two polls over, two
    under. With recover_polls=3 the alert fires once, holds through the flapping
    and resolves once after it, instead of firing and resolving every minute."""
    flapping = [
        {
            "type": "flapping",
            "metric": "avg_response_ms",
            "start": START.isoformat(),
            "duration_seconds": 1200,
            "period_seconds": 60,
            "factor": 3,
        }
    ]
    times = every(START - timedelta(days=1), step=timedelta(seconds=30), count=2 * 60 * 24 + 60)
    actions = run_dynamic_monitor(
        "avg_response_ms", times, direction="above", scenarios=flapping, min_samples=2000, recover_polls=3
    ).actions
    assert actions == [(at(30), "fire"), (at(1200), "resolve")]  # the last minute, 1140-1199, is normal


def test_source_error_raises_during_its_window():
    down = [{"type": "source_error", "start": START.isoformat(), "duration_seconds": 120}]
    with pytest.raises(SimulatedSourceError):
        value("cpu_pct", at(0), SEED, down)
    with pytest.raises(SimulatedSourceError):
        value("satisfaction", at(119), SEED, down)
    assert value("cpu_pct", at(-1), SEED, down) == plain("cpu_pct", -1)
    assert value("cpu_pct", at(120), SEED, down) == plain("cpu_pct", 120)


def test_source_error_for_one_metric():
    down = [{"type": "source_error", "metric": "memory_pct", "start": START.isoformat()}]
    with pytest.raises(SimulatedSourceError):
        value("memory_pct", at(10), SEED, down)
    assert value("cpu_pct", at(10), SEED, down) == plain("cpu_pct", 10)


def test_values_are_clipped_to_the_physical_range():
    scenarios = [
        {"type": "step", "metric": "satisfaction", "start": START.isoformat(), "delta": 5},
        {"type": "step", "metric": "requests_per_minute", "start": START.isoformat(), "delta": -1e6},
        {"type": "spike", "metric": "cpu_pct", "start": START.isoformat(), "factor": 10},
    ]
    assert value("satisfaction", at(1), SEED, scenarios) == 1.0
    assert value("requests_per_minute", at(1), SEED, scenarios) == 0.0
    assert value("cpu_pct", at(1), SEED, scenarios) == 100.0


def test_scenario_start_accepts_naive_iso_as_utc_and_datetimes():
    naive = [{"type": "step", "metric": "cpu_pct", "start": START.replace(tzinfo=None).isoformat(), "delta": 10}]
    aware = [{"type": "step", "metric": "cpu_pct", "start": START, "delta": 10}]
    assert value("cpu_pct", at(1), SEED, naive) == value("cpu_pct", at(1), SEED, aware)
    assert value("cpu_pct", at(1), SEED, naive) == pytest.approx(plain("cpu_pct", 1) + 10)


@pytest.mark.parametrize(
    "scenarios",
    [
        "spike",
        [42],
        [{"type": "meteor", "start": "2025-01-01T00:00:00"}],
        [{"type": "spike", "start": "2025-01-01T00:00:00"}],  # no metric
        [{"type": "spike", "metric": "queue_depth", "start": "2025-01-01T00:00:00"}],
        [{"type": "spike", "metric": "cpu_pct"}],  # no start
        [{"type": "spike", "metric": "cpu_pct", "start": "yesterday"}],
        [{"type": "spike", "metric": "cpu_pct", "start": {"after_seconds": 60}}],
        [{"type": "spike", "metric": "cpu_pct", "start": "2025-01-01T00:00:00", "duration_seconds": 0}],
        [{"type": "spike", "metric": "cpu_pct", "start": "2025-01-01T00:00:00", "factor": "3"}],
        [{"type": "step", "metric": "cpu_pct", "start": "2025-01-01T00:00:00"}],  # no delta
        [{"type": "flapping", "metric": "cpu_pct", "start": "2025-01-01T00:00:00", "period_seconds": 0}],
    ],
)
def test_malformed_scenarios_are_refused(scenarios):
    with pytest.raises(ValueError):
        validate_scenarios(scenarios)
    with pytest.raises(ValueError):
        value("cpu_pct", MONDAY, SEED, scenarios)


def test_no_scenarios_is_fine():
    validate_scenarios(None)
    validate_scenarios([])
    assert value("cpu_pct", MONDAY, SEED, []) == value("cpu_pct", MONDAY, SEED, None)
