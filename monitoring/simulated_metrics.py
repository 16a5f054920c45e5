"""The built-in ``simulator`` source: realistic, reproducible application metrics.

Every value is a pure function of ``(metric, at truncated to the second, seed,
scenarios)``: a daily wave (busy in the UTC afternoon, quiet at night), a slow
drift and per-second noise, both drawn from a hash-seeded ``random.Random``, then
the scheduled deviations of ``scenarios``. Nothing is stored, nothing is random
between runs, so the demo and the tests see the same series every time.

A scenario is a dict (kept in ``MetricSource.options["scenarios"]``)::

    {"type": "spike" | "step" | "outage" | "flapping" | "source_error",
     "metric": "avg_response_ms",            # required for spike, step, flapping;
                                             # optional for outage and source_error
                                             # (absent: every metric)
     "start": "2025-01-06T14:00:00+00:00",   # absolute ISO datetime; naive means UTC
     "duration_seconds": 600,                # optional; absent: open-ended
     "factor": 3.0,                          # spike (default 3), flapping
     "delta": 250.0,                         # step (required), flapping instead of factor
     "period_seconds": 60}                   # flapping: breaching / normal half-period

* ``spike`` multiplies the value by ``factor`` while it lasts;
* ``step`` adds ``delta`` from ``start`` on (for ``duration_seconds`` if given);
* ``outage`` takes the application down: satisfaction near 0, error rate 85-95 %,
  response time 30-35 s (timeouts), requests near 0; CPU and memory are left as
  they are (a dead and a hung application disagree about them);
* ``flapping`` alternates: ``period_seconds`` breaching (``factor`` or ``delta``
  applied), ``period_seconds`` normal, starting with breaching at ``start``;
* ``source_error`` makes :func:`value` raise :class:`SimulatedSourceError`.

Scenarios apply in list order (spikes, steps, flapping), an outage overrides them,
and the result is clipped to the metric's physical range (satisfaction 0..1,
percentages 0..100, counts and durations >= 0).
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

METRICS = frozenset({"satisfaction", "avg_response_ms", "requests_per_minute", "error_rate", "cpu_pct", "memory_pct"})
SCENARIO_TYPES = frozenset({"spike", "step", "outage", "flapping", "source_error"})
# Scenario types that must name the metric they bend.
_METRIC_REQUIRED = frozenset({"spike", "step", "flapping"})

DEFAULT_SPIKE_FACTOR = 3.0
DEFAULT_FLAP_PERIOD_SECONDS = 60
# The daily wave bottoms out at 03:00 UTC and peaks twelve hours later.
QUIET_HOUR_UTC = 3.0
# The slow drift is interpolated between knots this far apart.
_DRIFT_KNOT_SECONDS = 600
# Gaussian noise is cut at this many standard deviations, so ranges are guaranteed.
_NOISE_CLIP = 3.0


class SimulatedSourceError(Exception):
    """A ``source_error`` scenario is active: the simulated source cannot be read."""


@dataclass(frozen=True)
class _Profile:
    quiet: float  # level at the quietest hour
    busy: float  # level at the busiest hour
    noise: float  # standard deviation of per-second noise (relative if `relative`)
    drift: float  # amplitude of the slow drift (relative if `relative`)
    low: float  # physical range
    high: float
    digits: int  # rounding of the reported value
    relative: bool = False


# Levels chosen so a week stays inside: satisfaction ~0.89-0.98, response
# ~190-380 ms, requests ~140-2000/min, error rate ~0.2-1 %, CPU ~21-58 %,
# memory ~41-67 %.
_PROFILES: dict[str, _Profile] = {
    "satisfaction": _Profile(0.955, 0.915, 0.006, 0.004, 0.0, 1.0, 4),
    "avg_response_ms": _Profile(230.0, 340.0, 10.0, 8.0, 0.0, math.inf, 1),
    "requests_per_minute": _Profile(160.0, 1750.0, 0.03, 0.02, 0.0, math.inf, 1, relative=True),
    "error_rate": _Profile(0.32, 0.8, 0.035, 0.025, 0.0, 100.0, 3),
    "cpu_pct": _Profile(27.0, 52.0, 1.5, 1.0, 0.0, 100.0, 1),
    "memory_pct": _Profile(46.0, 62.0, 1.2, 1.5, 0.0, 100.0, 1),
}


@dataclass(frozen=True)
class _Scenario:
    type: str
    metric: str | None
    start: datetime
    end: datetime | None
    factor: float | None
    delta: float | None
    period: int

    def active(self, at: datetime, metric: str) -> bool:
        if self.metric is not None and self.metric != metric:
            return False
        return self.start <= at and (self.end is None or at < self.end)


def value(metric: str, at: datetime, seed: int, scenarios: list[dict] | None = None) -> float | None:
    """The simulated ``metric`` at ``at`` (naive means UTC) for a source seeded ``seed``.

    None for a metric the simulator does not know. Raises
    :class:`SimulatedSourceError` inside a ``source_error`` window and
    ``ValueError`` for a malformed scenario.
    """
    profile = _PROFILES.get(metric)
    if profile is None:
        return None
    at = _utc(at).replace(microsecond=0)
    parsed = _parse_scenarios(scenarios)
    for scenario in parsed:
        if scenario.type == "source_error" and scenario.active(at, metric):
            raise SimulatedSourceError(f"simulated source error since {scenario.start.isoformat()}")

    number = _baseline_value(metric, profile, at, seed)
    down = False
    for scenario in parsed:
        if not scenario.active(at, metric):
            continue
        if scenario.type == "spike":
            number *= scenario.factor if scenario.factor is not None else DEFAULT_SPIKE_FACTOR
        elif scenario.type == "step":
            number += scenario.delta or 0.0
        elif scenario.type == "flapping" and _flap_breaching(scenario, at):
            if scenario.delta is not None:
                number += scenario.delta
            else:
                number *= scenario.factor if scenario.factor is not None else DEFAULT_SPIKE_FACTOR
        elif scenario.type == "outage":
            down = True
    if down:
        number = _outage_value(metric, number, at, seed)
    return round(min(max(number, profile.low), profile.high), profile.digits)


def validate_scenarios(scenarios: Any) -> None:
    """Raise ``ValueError`` naming the first malformed scenario; for serializers
    checking ``MetricSource.options["scenarios"]`` before it is saved."""
    _parse_scenarios(scenarios)


def demo_scenarios(now: datetime) -> list[dict]:
    """The demo's scheduled trouble: ``avg_response_ms`` triples from three minutes
    after ``now`` for ten minutes (about 600-1000 ms against a normal 230-340 ms),
    so ``make run`` shows an alert firing and an incident opening within minutes,
    and recovering after."""
    start = _utc(now).replace(microsecond=0) + timedelta(minutes=3)
    return [
        {
            "type": "spike",
            "metric": "avg_response_ms",
            "start": start.isoformat(),
            "duration_seconds": 600,
            "factor": DEFAULT_SPIKE_FACTOR,
        }
    ]


# --- the normal series ------------------------------------------------------


def daily_wave(at: datetime) -> float:
    """0 at the quietest UTC hour, 1 twelve hours later, a smooth cosine between."""
    at = _utc(at)
    hours = at.hour + at.minute / 60 + at.second / 3600
    return (1 - math.cos(2 * math.pi * (hours - QUIET_HOUR_UTC) / 24)) / 2


def _baseline_value(metric: str, profile: _Profile, at: datetime, seed: int) -> float:
    second = int(at.timestamp())
    level = profile.quiet + (profile.busy - profile.quiet) * daily_wave(at)
    noise = max(-_NOISE_CLIP, min(_NOISE_CLIP, _rng(seed, metric, "noise", second).gauss(0.0, 1.0)))
    knot, offset = divmod(second, _DRIFT_KNOT_SECONDS)
    left = _rng(seed, metric, "drift", knot).uniform(-1.0, 1.0)
    right = _rng(seed, metric, "drift", knot + 1).uniform(-1.0, 1.0)
    ease = (1 - math.cos(math.pi * offset / _DRIFT_KNOT_SECONDS)) / 2
    wobble = profile.noise * noise + profile.drift * (left + (right - left) * ease)
    return level * (1 + wobble) if profile.relative else level + wobble


def _outage_value(metric: str, current: float, at: datetime, seed: int) -> float:
    jitter = _rng(seed, metric, "outage", int(at.timestamp())).random()
    if metric == "satisfaction":
        return 0.02 * jitter
    if metric == "error_rate":
        return 85.0 + 10.0 * jitter
    if metric == "avg_response_ms":
        return 30_000.0 + 5_000.0 * jitter
    if metric == "requests_per_minute":
        return 3.0 * jitter
    return current


def _flap_breaching(scenario: _Scenario, at: datetime) -> bool:
    elapsed = int((at - scenario.start).total_seconds())
    return (elapsed // scenario.period) % 2 == 0


def _rng(seed: int, *parts: object) -> random.Random:
    # hashlib, not hash(): str hashes are salted per process.
    key = "|".join(str(part) for part in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# --- scenarios --------------------------------------------------------------


def _parse_scenarios(scenarios: Any) -> list[_Scenario]:
    if scenarios is None:
        return []
    if not isinstance(scenarios, list | tuple):
        raise ValueError("scenarios must be a list")
    return [_parse_scenario(index, raw) for index, raw in enumerate(scenarios)]


def _parse_scenario(index: int, raw: Any) -> _Scenario:
    where = f"scenario {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    kind = raw.get("type")
    if kind not in SCENARIO_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(sorted(SCENARIO_TYPES))}")
    metric = raw.get("metric")
    if metric is None and kind in _METRIC_REQUIRED:
        raise ValueError(f"{where}: a {kind} needs a metric")
    if metric is not None and metric not in METRICS:
        raise ValueError(f"{where}: unknown metric {metric!r}")
    start = _parse_start(where, raw.get("start"))
    duration = _number(where, raw, "duration_seconds")
    if duration is not None and duration <= 0:
        raise ValueError(f"{where}: duration_seconds must be positive")
    factor = _number(where, raw, "factor")
    delta = _number(where, raw, "delta")
    if kind == "step" and delta is None:
        raise ValueError(f"{where}: a step needs a delta")
    period = _number(where, raw, "period_seconds")
    if period is not None and period < 1:
        raise ValueError(f"{where}: period_seconds must be at least 1")
    return _Scenario(
        type=kind,
        metric=metric,
        start=start,
        end=start + timedelta(seconds=duration) if duration is not None else None,
        factor=factor,
        delta=delta,
        period=int(period) if period is not None else DEFAULT_FLAP_PERIOD_SECONDS,
    )


def _parse_start(where: str, raw: Any) -> datetime:
    if isinstance(raw, datetime):
        return _utc(raw)
    if not isinstance(raw, str):
        raise ValueError(f"{where}: start must be an ISO datetime")
    try:
        return _utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ValueError(f"{where}: start {raw!r} is not an ISO datetime") from None


def _number(where: str, raw: dict, key: str) -> float | None:
    number = raw.get(key)
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError(f"{where}: {key} must be a finite number")
    return float(number)
