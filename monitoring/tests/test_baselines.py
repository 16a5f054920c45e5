"""Baseline maths: static thresholds, learned bands, severity tiers, hysteresis."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from monitoring.baselines import (
    CRITICAL_MULTIPLE,
    MAD_SCALE,
    OUTAGE_MULTIPLE,
    Band,
    default_min_width,
    dynamic_band,
    dynamic_severity,
    hysteresis,
    seasonal_band,
    severity_rank,
    static_severity,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
series = st.lists(finite, min_size=1, max_size=80)
methods = st.sampled_from(["mad", "stddev"])
sensitivities = st.floats(min_value=0.1, max_value=10)
directions = st.sampled_from(["above", "below"])
maybe_threshold = st.none() | finite


def close(a: float | None, b: float | None, *, scale: float) -> bool:
    assert a is not None and b is not None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * (1 + scale))


# --- Band -----------------------------------------------------------------------


def test_band_round_trips_through_json_dict():
    band = dynamic_band([1.0, 2.0, 3.0, 4.0, 100.0], sensitivity=3, min_samples=3)
    assert Band.from_dict(band.as_dict()) == band
    assert set(band.as_dict()) >= {"lower", "upper", "center", "learning"}


def test_empty_cache_is_a_silent_learning_band():
    band = Band.from_dict({})
    assert band.learning and band.center is None
    assert dynamic_severity(value=1e9, band=band, direction="above", sensitivity=3) is None
    assert Band.from_dict(None).learning


def test_as_dict_never_holds_non_finite_numbers():
    data = Band(lower=-math.inf, upper=math.inf, center=math.nan).as_dict()
    assert data["lower"] is None and data["upper"] is None and data["center"] is None


# --- static thresholds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(499, None), (500, "warning"), (999.9, "warning"), (1000, "critical"), (5000, "outage"), (9e9, "outage")],
)
def test_static_above_breaches_at_the_threshold(value, expected):
    assert static_severity(value=value, direction="above", warning=500, critical=1000, outage=5000) == expected


@pytest.mark.parametrize(("value", "expected"), [(0.95, None), (0.85, "warning"), (0.7, "critical"), (0.2, "outage")])
def test_static_below(value, expected):
    assert static_severity(value=value, direction="below", warning=0.85, critical=0.7, outage=0.3) == expected


def test_static_thresholds_are_optional():
    assert static_severity(value=10, direction="above", warning=None, critical=5, outage=None) == "critical"
    assert static_severity(value=10, direction="above", warning=None, critical=None, outage=None) is None
    assert static_severity(value=math.nan, direction="above", warning=1, critical=2, outage=3) is None
    with pytest.raises(ValueError):
        static_severity(value=1, direction="sideways", warning=1, critical=None, outage=None)


@given(
    a=finite, b=finite, direction=directions, warning=maybe_threshold, critical=maybe_threshold, outage=maybe_threshold
)
def test_static_severity_is_monotonic_in_value(a, b, direction, warning, critical, outage):
    low, high = min(a, b), max(a, b)
    thresholds = {"warning": warning, "critical": critical, "outage": outage}
    at_low = severity_rank(static_severity(value=low, direction=direction, **thresholds))
    at_high = severity_rank(static_severity(value=high, direction=direction, **thresholds))
    if direction == "above":
        assert at_low <= at_high
    else:
        assert at_low >= at_high


# --- dynamic band -------------------------------------------------------------------


def test_mad_band_by_hand():
    band = dynamic_band([10, 11, 12, 13, 14], sensitivity=2, min_samples=5)
    # median 12, |deviations| 2 1 0 1 2 -> MAD 1
    assert band.center == 12
    assert band.spread == pytest.approx(MAD_SCALE)
    assert (band.lower, band.upper) == (pytest.approx(12 - 2 * MAD_SCALE), pytest.approx(12 + 2 * MAD_SCALE))
    assert not band.learning and band.samples == 5


def test_stddev_band_by_hand():
    values = [2, 4, 4, 4, 5, 5, 7, 9]
    band = dynamic_band(values, sensitivity=1, method="stddev", min_samples=1)
    assert band.center == pytest.approx(5)
    assert band.upper - band.center == pytest.approx(statistics.stdev(values))


def test_learning_until_min_samples_and_empty_history():
    assert dynamic_band([1.0] * 29, sensitivity=3, min_samples=30).learning
    assert not dynamic_band([1.0] * 30, sensitivity=3, min_samples=30).learning
    empty = dynamic_band([], sensitivity=3, min_samples=1)
    assert empty.learning and empty.center is None and empty.lower is None


def test_non_finite_values_are_ignored():
    band = dynamic_band([1.0, math.nan, 2.0, math.inf, 3.0], sensitivity=3, min_samples=3)
    assert band.samples == 3 and band.center == 2.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        dynamic_band([1.0], sensitivity=3, method="mean", min_samples=1)
    with pytest.raises(ValueError):
        dynamic_band([1.0], sensitivity=-1, min_samples=1)
    with pytest.raises(ValueError):
        dynamic_band([1.0], sensitivity=3, min_samples=1, min_width=-1)


@given(values=series, k=sensitivities, method=methods)
def test_band_contains_its_center(values, k, method):
    band = dynamic_band(values, sensitivity=k, method=method, min_samples=1)
    assert band.lower <= band.center <= band.upper
    assert dynamic_severity(value=band.center, band=band, direction="above", sensitivity=k) is None
    assert dynamic_severity(value=band.center, band=band, direction="below", sensitivity=k) is None


@given(values=series, k=sensitivities, method=methods, c=st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_the_values_scales_the_band(values, k, method, c):
    scale = c * max(abs(v) for v in values)
    band = dynamic_band(values, sensitivity=k, method=method, min_samples=1, min_width=1.0)
    scaled = dynamic_band([c * v for v in values], sensitivity=k, method=method, min_samples=1, min_width=c)
    for field in ("lower", "center", "upper"):
        assert close(getattr(scaled, field), c * getattr(band, field), scale=scale * k)


@given(values=series, k=sensitivities, method=methods, c=st.floats(min_value=1e-2, max_value=1e2))
def test_scaling_also_holds_with_the_default_minimum_width(values, k, method, c):
    band = dynamic_band(values, sensitivity=k, method=method, min_samples=1)
    assume(band.upper - band.center > 1.0)  # well clear of the absolute epsilon
    scaled = dynamic_band([c * v for v in values], sensitivity=k, method=method, min_samples=1)
    scale = c * max(abs(v) for v in values) * k
    assert close(scaled.upper, c * band.upper, scale=scale)
    assert close(scaled.lower, c * band.lower, scale=scale)


@given(values=series, k=sensitivities, method=methods, shift=finite)
def test_adding_a_constant_shifts_the_band(values, k, method, shift):
    scale = (max(abs(v) for v in values) + abs(shift)) * k * 1e3  # cancellation when shifting
    band = dynamic_band(values, sensitivity=k, method=method, min_samples=1, min_width=0.5)
    shifted = dynamic_band([v + shift for v in values], sensitivity=k, method=method, min_samples=1, min_width=0.5)
    for field in ("lower", "center", "upper"):
        assert close(getattr(shifted, field), getattr(band, field) + shift, scale=scale)


@given(values=series, k1=sensitivities, k2=sensitivities, method=methods)
def test_more_sensitivity_never_narrows_the_band(values, k1, k2, method):
    low_k, high_k = sorted((k1, k2))
    narrow = dynamic_band(values, sensitivity=low_k, method=method, min_samples=1)
    wide = dynamic_band(values, sensitivity=high_k, method=method, min_samples=1)
    assert wide.lower <= narrow.lower and wide.upper >= narrow.upper


@given(
    values=st.lists(st.floats(min_value=-1000, max_value=1000), min_size=100, max_size=100),
    k=sensitivities,
    sign=st.sampled_from([1, -1]),
)
def test_mad_band_shrugs_off_one_huge_outlier(values, k, sign):
    ordered = sorted(values)
    before = dynamic_band(values, sensitivity=k, min_samples=1)
    outlier = sign * 1e9
    after = dynamic_band([*values, outlier], sensitivity=k, min_samples=1)
    # The median moves by at most half a gap between neighbouring order statistics.
    assert ordered[48] <= after.center <= ordered[51]
    assert abs(after.center - before.center) <= max(ordered[51] - ordered[48], 1e-9)
    # ...and the band does not stretch to swallow the outlier.
    assert not after.lower <= outlier <= after.upper
    assert after.upper - after.lower <= 2 * k * MAD_SCALE * 2000 + 2 * default_min_width(after.center) + 1e-6


@given(level=finite, k=sensitivities, n=st.integers(min_value=1, max_value=60), method=methods)
def test_flat_series_gets_the_minimum_width_and_noise_inside_is_no_breach(level, k, n, method):
    band = dynamic_band([level] * n, sensitivity=k, method=method, min_samples=1)
    floor = default_min_width(level)
    assert band.upper - band.center == pytest.approx(floor)
    assert band.center - band.lower == pytest.approx(floor)
    for nudge in (0.99 * floor, -0.99 * floor):
        for direction in ("above", "below"):
            assert dynamic_severity(value=level + nudge, band=band, direction=direction, sensitivity=k) is None


def test_flat_series_at_zero_has_a_non_degenerate_band():
    band = dynamic_band([0.0] * 50, sensitivity=3, min_samples=30)
    assert band.upper > 0 > band.lower
    assert dynamic_severity(value=0.0, band=band, direction="above", sensitivity=3) is None
    assert dynamic_severity(value=1.0, band=band, direction="above", sensitivity=3) is not None


def test_explicit_min_width_is_used():
    band = dynamic_band([100.0] * 40, sensitivity=3, min_samples=30, min_width=20)
    assert (band.lower, band.upper) == (80, 120)


# --- seasonal band ------------------------------------------------------------------


def _weekly_history(weeks: int, *, monday_9_level: float = 500.0) -> list[tuple[datetime, float]]:
    """Hourly-ish samples (every 10 minutes): flat 100, except Mondays 09:00-10:00 at 500."""
    start = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
    samples = []
    for step in range(weeks * 7 * 24 * 6):
        at = start + timedelta(minutes=10 * step)
        busy = at.weekday() == 0 and at.hour == 9
        samples.append((at, (monday_9_level if busy else 100.0) + (step % 3)))
    return samples


def test_seasonal_band_learns_the_hour_of_week_with_three_weeks():
    samples = _weekly_history(3)
    monday_9 = datetime(2025, 1, 27, 9, 30, tzinfo=UTC)
    band = seasonal_band(samples, monday_9, sensitivity=3, min_samples=10)
    assert band.seasonal and not band.learning
    assert band.samples == 18  # 6 per hour, 3 weeks
    assert 495 < band.center < 505
    assert dynamic_severity(value=500, band=band, direction="above", sensitivity=3) is None
    tuesday_9 = monday_9 + timedelta(days=1)
    quiet = seasonal_band(samples, tuesday_9, sensitivity=3, min_samples=10)
    assert quiet.seasonal and 95 < quiet.center < 105
    assert dynamic_severity(value=500, band=quiet, direction="above", sensitivity=3) == "outage"


def test_seasonal_band_falls_back_without_three_seasons():
    samples = _weekly_history(2)
    monday_9 = datetime(2025, 1, 20, 9, 30, tzinfo=UTC)
    band = seasonal_band(samples, monday_9, sensitivity=3, min_samples=10)
    assert not band.seasonal
    assert band.samples == len(samples)
    assert 99 < band.center < 103  # the busy hour is a sliver of the whole


def test_seasonal_fallback_uses_the_rolling_window():
    samples = _weekly_history(2)
    at = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # mid-history: later samples must not count
    band = seasonal_band(samples, at, sensitivity=3, min_samples=10, window=timedelta(hours=6))
    assert not band.seasonal
    assert band.samples == 6 * 6 + 1  # 06:00 to 12:00, both ends included


def test_seasonal_needs_min_samples_in_the_slot():
    samples = _weekly_history(3)
    band = seasonal_band(samples, datetime(2025, 1, 27, 9, tzinfo=UTC), sensitivity=3, min_samples=19)
    assert not band.seasonal


def test_seasonal_treats_naive_datetimes_as_utc():
    samples = [(when.replace(tzinfo=None), number) for when, number in _weekly_history(3)]
    band = seasonal_band(samples, datetime(2025, 1, 27, 9, 30), sensitivity=3, min_samples=10)
    assert band.seasonal and band.center > 495


# --- dynamic severity ---------------------------------------------------------------


def _band(center: float = 100.0, spread: float = 10.0, k: float = 3.0) -> Band:
    return Band(lower=center - k * spread, upper=center + k * spread, center=center, spread=spread, min_width=1.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (130, None),  # on the edge: inside
        (130.1, "warning"),
        (100 + CRITICAL_MULTIPLE * 30, "warning"),
        (100 + CRITICAL_MULTIPLE * 30 + 0.1, "critical"),
        (100 + OUTAGE_MULTIPLE * 30, "critical"),
        (100 + OUTAGE_MULTIPLE * 30 + 0.1, "outage"),
        (50, None),  # far out on the harmless side
    ],
)
def test_dynamic_severity_tiers_above(value, expected):
    assert dynamic_severity(value=value, band=_band(), direction="above", sensitivity=3) == expected


def test_dynamic_severity_below_mirrors_above():
    band = _band()
    assert dynamic_severity(value=69.9, band=band, direction="below", sensitivity=3) == "warning"
    assert dynamic_severity(value=100 - 76, band=band, direction="below", sensitivity=3) == "outage"
    assert dynamic_severity(value=1000, band=band, direction="below", sensitivity=3) is None


def test_dynamic_severity_applies_the_current_sensitivity():
    band = _band(k=3)  # cached at k = 3: edge at 130
    assert dynamic_severity(value=140, band=band, direction="above", sensitivity=3) == "warning"
    assert dynamic_severity(value=140, band=band, direction="above", sensitivity=5) is None


def test_dynamic_severity_without_spread_uses_the_edges():
    band = Band(lower=70, upper=130, center=100)
    assert dynamic_severity(value=131, band=band, direction="above", sensitivity=3) == "warning"
    assert dynamic_severity(value=100 + 2.6 * 30, band=band, direction="above", sensitivity=99) == "outage"


def test_dynamic_severity_is_silent_while_learning_or_without_data():
    learning = Band(lower=70, upper=130, center=100, learning=True)
    assert dynamic_severity(value=1e9, band=learning, direction="above", sensitivity=3) is None
    assert dynamic_severity(value=math.nan, band=_band(), direction="above", sensitivity=3) is None


@given(values=series, k=sensitivities, method=methods, value=finite, direction=directions)
def test_dynamic_breach_iff_outside_the_band_on_the_bad_side(values, k, method, value, direction):
    band = dynamic_band(values, sensitivity=k, method=method, min_samples=1)
    severity = dynamic_severity(value=value, band=band, direction=direction, sensitivity=k)
    outside = value > band.upper if direction == "above" else value < band.lower
    # Float rounding can put a value a hair either side of an edge; away from it the answer is exact.
    margin = 1e-9 * (1 + abs(value) + abs(band.center))
    if abs(value - band.upper) > margin and abs(value - band.lower) > margin:
        assert (severity is not None) == outside


# --- hysteresis ---------------------------------------------------------------------


def test_hysteresis_fires_after_breach_polls_and_resolves_after_recover_polls():
    state = {"breach_count": 0, "ok_count": 0, "firing": False}
    actions = []
    for severity in ["warning", None, "warning", "critical", "critical", None, "warning", None, None, None]:
        action, state["breach_count"], state["ok_count"] = hysteresis(
            severity=severity, breach_polls=2, recover_polls=2, **state
        )
        state["firing"] = {"fire": True, "resolve": False}.get(action, state["firing"])
        actions.append(action)
    assert actions == ["hold", "hold", "hold", "fire", "hold", "hold", "hold", "hold", "resolve", "hold"]


def test_hysteresis_refuses_zero_polls():
    with pytest.raises(ValueError):
        hysteresis(breach_count=0, ok_count=0, severity=None, firing=False, breach_polls=0, recover_polls=1)


@given(
    breaches=st.lists(st.booleans(), max_size=60),
    breach_polls=st.integers(min_value=1, max_value=6),
    recover_polls=st.integers(min_value=1, max_value=6),
)
def test_hysteresis_never_fires_or_resolves_early(breaches, breach_polls, recover_polls):
    firing, breach_count, ok_count = False, 0, 0
    breach_streak = ok_streak = 0
    for breach in breaches:
        breach_streak, ok_streak = (breach_streak + 1, 0) if breach else (0, ok_streak + 1)
        action, breach_count, ok_count = hysteresis(
            breach_count=breach_count,
            ok_count=ok_count,
            severity="warning" if breach else None,
            firing=firing,
            breach_polls=breach_polls,
            recover_polls=recover_polls,
        )
        if action == "fire":
            assert not firing and breach_streak >= breach_polls
            firing = True
        elif action == "resolve":
            assert firing and ok_streak >= recover_polls
            firing = False
        else:
            # ...and it is not late either: holding means the streak is not there yet.
            assert not (not firing and breach and breach_streak >= breach_polls)
            assert not (firing and not breach and ok_streak >= recover_polls)
