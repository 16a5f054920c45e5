"""Baseline maths: static thresholds, learned bands, severity and hysteresis.

Pure functions over plain numbers and datetimes; no database, no clock. The
monitoring services load a monitor's samples (leaving out those taken while an
alert fired, so an incident is not learned as normal), call these, and cache the
resulting :class:`Band` in ``Monitor.baseline`` (``Band.as_dict``).

Severity of a dynamic breach, in multiples of the band's half-width ``h``
(``h = max(k * spread, min_width)``, ``k`` the sensitivity)::

    |value - center| <= h          -> None (inside the band)
    h   < excess <= 1.5 h          -> "warning"   (k = 3: beyond 3 sigma)
    1.5 h < excess <= 2.5 h        -> "critical"  (k = 3: beyond 4.5 sigma)
    excess > 2.5 h                 -> "outage"    (k = 3: beyond 7.5 sigma)

only on the bad side (``direction``). The tiers scale with the band, so a more
tolerant monitor is more tolerant at every severity.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoring.choices import SEVERITY_RANK, Direction, Severity

METHODS = ("mad", "stddev")

# 1.4826 * MAD estimates the standard deviation of normally distributed data.
MAD_SCALE = 1.4826
# Default minimum half-width: 5 % of |center|, never below an absolute epsilon,
# so a flat series does not alert on its last decimal.
MIN_WIDTH_FRACTION = 0.05
MIN_WIDTH_ABSOLUTE = 1e-6
# A seasonal (hour-of-week) band needs this many distinct weeks of its slot.
SEASONS_REQUIRED = 3
# Severity tiers, as multiples of the band's half-width (see the module docstring).
CRITICAL_MULTIPLE = 1.5
OUTAGE_MULTIPLE = 2.5
# Hysteresis counters stop here, far below PositiveIntegerField's limit.
COUNTER_CAP = 1_000_000

FIRE, RESOLVE, HOLD = "fire", "resolve", "hold"


@dataclass(frozen=True)
class Band:
    """A learned normal range ``[lower, upper]`` around ``center``.

    ``learning`` is True while a dynamic baseline has fewer than ``min_samples``
    values: the band may be drawn but never alerts. ``spread`` is the
    sensitivity-free scale (standard deviation, or 1.4826 * MAD) and
    ``min_width`` the floor of the half-width, so :func:`dynamic_severity` can
    apply a monitor's current sensitivity to a band cached with an older one.
    """

    lower: float | None
    upper: float | None
    center: float | None
    learning: bool = False
    spread: float | None = None
    min_width: float | None = None
    samples: int = 0
    seasonal: bool = False

    def as_dict(self) -> dict:
        """JSON-safe (non-finite numbers become None), for ``Monitor.baseline``
        and chart snapshots."""
        return {
            "lower": _finite_or_none(self.lower),
            "upper": _finite_or_none(self.upper),
            "center": _finite_or_none(self.center),
            "learning": self.learning,
            "spread": _finite_or_none(self.spread),
            "min_width": _finite_or_none(self.min_width),
            "samples": self.samples,
            "seasonal": self.seasonal,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Band:
        """The inverse of :meth:`as_dict`. An empty or missing cache (a monitor
        whose baseline was never computed) is a learning band: silent."""
        data = data or {}
        center = _float_or_none(data.get("center"))
        return cls(
            lower=_float_or_none(data.get("lower")),
            upper=_float_or_none(data.get("upper")),
            center=center,
            learning=bool(data.get("learning", center is None)),
            spread=_float_or_none(data.get("spread")),
            min_width=_float_or_none(data.get("min_width")),
            samples=int(data.get("samples") or 0),
            seasonal=bool(data.get("seasonal", False)),
        )


def static_severity(
    *, value: float, direction: str, warning: float | None, critical: float | None, outage: float | None
) -> str | None:
    """The highest severity whose threshold ``value`` reaches, else None.

    ``above``: ``value >= threshold`` breaches; ``below``: ``value <= threshold``.
    Any threshold may be None (not set). Taking the highest tier reached keeps the
    result monotonic in ``value`` even if the thresholds are entered out of order.
    A non-finite value is no data, never a breach.
    """
    _check_direction(direction)
    if not math.isfinite(value):
        return None
    reached = None
    for severity, threshold in ((Severity.WARNING, warning), (Severity.CRITICAL, critical), (Severity.OUTAGE, outage)):
        if threshold is None:
            continue
        if (value >= threshold) if direction == Direction.ABOVE else (value <= threshold):
            reached = severity
    return reached


def default_min_width(center: float) -> float:
    """The half-width floor used when a monitor sets none."""
    return max(MIN_WIDTH_FRACTION * abs(center), MIN_WIDTH_ABSOLUTE)


def dynamic_band(
    values: Sequence[float],
    *,
    sensitivity: float,
    method: str = "mad",
    min_samples: int,
    min_width: float | None = None,
) -> Band:
    """The band ``center +- max(k * spread, min_width)`` over ``values``.

    ``method="mad"``: center = median, spread = 1.4826 * MAD (robust: a few
    outliers barely move it). ``method="stddev"``: center = mean, spread = sample
    standard deviation. ``k`` = ``sensitivity``. ``min_width`` is the least
    half-width (default :func:`default_min_width`: 5 % of ``|center|``, at least
    1e-6), so a flat series gets a usable band. Non-finite values are ignored.
    ``learning`` is True with fewer than ``min_samples`` values; with none at all
    the band is empty (all None).
    """
    _check_sensitivity(sensitivity)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if min_width is not None and not min_width >= 0:
        raise ValueError("min_width must be a non-negative number")
    data = [float(v) for v in values if math.isfinite(v)]
    if not data:
        return Band(lower=None, upper=None, center=None, learning=True, samples=0)
    if method == "mad":
        center = statistics.median(data)
        spread = MAD_SCALE * statistics.median([abs(v - center) for v in data])
    else:
        center = statistics.fmean(data)
        spread = statistics.stdev(data) if len(data) > 1 else 0.0
    floor = default_min_width(center) if min_width is None else float(min_width)
    half = max(sensitivity * spread, floor)
    return Band(
        lower=center - half,
        upper=center + half,
        center=center,
        learning=len(data) < min_samples,
        spread=spread,
        min_width=floor,
        samples=len(data),
    )


def seasonal_band(
    samples: Sequence[tuple[datetime, float]],
    at: datetime,
    *,
    sensitivity: float,
    min_samples: int,
    method: str = "mad",
    min_width: float | None = None,
    window: timedelta | None = None,
) -> Band:
    """The band for ``at``'s hour of the week (UTC weekday and hour), learned
    from the samples of that same slot in earlier weeks.

    Seasonal only with at least ``SEASONS_REQUIRED`` (3) distinct weeks of the
    slot and at least ``min_samples`` values in it; the band then has
    ``seasonal=True``. Otherwise it **falls back to the non-seasonal band**
    (:func:`dynamic_band`) over all ``samples``, or over those in
    ``[at - window, at]`` when ``window`` is given (the monitor's rolling
    window), and says so with ``seasonal=False``. Naive datetimes are UTC.
    """
    at = _utc(at)
    slot = (at.weekday(), at.hour)
    in_slot: list[float] = []
    weeks: set[tuple[int, int]] = set()
    for when, number in samples:
        when = _utc(when)
        if (when.weekday(), when.hour) == slot:
            in_slot.append(number)
            weeks.add(when.isocalendar()[:2])
    options: dict[str, Any] = {"sensitivity": sensitivity, "method": method, "min_width": min_width}
    if len(weeks) >= SEASONS_REQUIRED and len(in_slot) >= min_samples:
        return replace(dynamic_band(in_slot, min_samples=min_samples, **options), seasonal=True)
    if window is None:
        recent = [number for _, number in samples]
    else:
        since = at - window
        recent = [number for when, number in samples if since <= _utc(when) <= at]
    return dynamic_band(recent, min_samples=min_samples, **options)


def dynamic_severity(*, value: float, band: Band, direction: str, sensitivity: float) -> str | None:
    """How far ``value`` lies outside ``band`` on the bad side.

    None while the band is learning or empty, for a non-finite value, inside the
    band (edges included) or on the harmless side. Beyond: ``warning``, past
    ``CRITICAL_MULTIPLE`` (1.5) half-widths ``critical``, past ``OUTAGE_MULTIPLE``
    (2.5) ``outage``. The half-width is rebuilt from the band's ``spread`` and
    ``min_width`` with this ``sensitivity`` (so an edited monitor takes effect
    before its cached band is recomputed); a band without them uses its edges.
    """
    _check_direction(direction)
    _check_sensitivity(sensitivity)
    if band.learning or band.center is None or not math.isfinite(value):
        return None
    if band.spread is not None and band.min_width is not None:
        half = max(sensitivity * band.spread, band.min_width)
    else:
        edge = band.upper if direction == Direction.ABOVE else band.lower
        if edge is None:
            return None
        half = abs(edge - band.center)
    excess = value - band.center if direction == Direction.ABOVE else band.center - value
    if excess <= half:
        return None
    if excess > OUTAGE_MULTIPLE * half:
        return Severity.OUTAGE
    if excess > CRITICAL_MULTIPLE * half:
        return Severity.CRITICAL
    return Severity.WARNING


def hysteresis(
    *,
    breach_count: int,
    ok_count: int,
    severity: str | None,
    firing: bool,
    breach_polls: int,
    recover_polls: int,
) -> tuple[str, int, int]:
    """One evaluation of the no-flapping rule: ``(action, breach_count, ok_count)``.

    A breach (``severity`` not None) adds to the breach streak and clears the ok
    streak; a normal evaluation does the opposite. ``fire`` when not firing and
    the breach streak reaches ``breach_polls``; ``resolve`` when firing and the ok
    streak reaches ``recover_polls``; else ``hold`` (a severity change while
    firing is the caller's to apply). Until the caller records the transition,
    the same action is returned again: firing twice is the caller's dedup to stop.
    """
    if breach_polls < 1 or recover_polls < 1:
        raise ValueError("breach_polls and recover_polls must be at least 1")
    if severity is not None:
        breaches, oks = min(breach_count + 1, COUNTER_CAP), 0
        action = FIRE if not firing and breaches >= breach_polls else HOLD
    else:
        breaches, oks = 0, min(ok_count + 1, COUNTER_CAP)
        action = RESOLVE if firing and oks >= recover_polls else HOLD
    return action, breaches, oks


def severity_rank(severity: str | None) -> int:
    """0 for None, then warning < critical < outage."""
    return SEVERITY_RANK.get(severity, 0) if severity else 0


def _check_direction(direction: str) -> None:
    if direction not in Direction.values:
        raise ValueError(f"direction must be {Direction.ABOVE.value!r} or {Direction.BELOW.value!r}")


def _check_sensitivity(sensitivity: float) -> None:
    if not (sensitivity >= 0 and math.isfinite(sensitivity)):
        raise ValueError("sensitivity must be a finite non-negative number")


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _finite_or_none(number: float | None) -> float | None:
    return number if number is not None and math.isfinite(number) else None


def _float_or_none(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
