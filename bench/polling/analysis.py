"""The figures of a run: lag per slot, missed slots, coverage, throughput, task times."""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import sql_rows

TARGET_P95_SECONDS = 5.0
COVERAGE_SLACK_SECONDS = 5


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


@dataclass
class Result:
    expected_slots: int = 0
    stored: int = 0
    missed: int = 0
    duplicates: int = 0
    lag: dict[str, float] = field(default_factory=dict)
    dispatch_lag: dict[str, float] = field(default_factory=dict)
    lag_buckets: list[tuple[str, int]] = field(default_factory=list)
    uncovered_monitors: int = 0
    worst_gap: float = 0.0
    polls_in_window: int = 0
    polls_per_second: float = 0.0
    http_requests: int = 0
    http_peak_per_second: int = 0
    http_per_second_p50: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    poll_task_ms: dict[str, float] = field(default_factory=dict)
    dispatch_task_ms: dict[str, float] = field(default_factory=dict)
    dispatch_runs: int = 0
    dispatch_per_run: dict[str, float] = field(default_factory=dict)
    expired: int = 0
    retries: int = 0
    errors: int = 0
    load_before: str = ""
    db: dict[str, float] = field(default_factory=dict)
    other_active_mean: float = 0.0
    load_after: str = ""

    @property
    def passed(self) -> bool:
        return self.lag.get("p95", math.inf) < TARGET_P95_SECONDS and self.missed == 0


def summary(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "n": len(values),
        "min": values[0],
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": values[-1],
        "mean": sum(values) / len(values),
    }


TASK_DONE = re.compile(r"Task (monitoring\.\w+)\[[0-9a-f-]+\] succeeded in ([0-9.e-]+)s: (.*)$", re.M)
TASK_RETRY = re.compile(r"Task monitoring\.poll_monitor\[[0-9a-f-]+\] retry", re.M)
TASK_ERROR = re.compile(r"Task monitoring\.\w+\[[0-9a-f-]+\] raised unexpected", re.M)
EXPIRED = re.compile(r"(?i)expired|Discarding revoked task", re.M)


def analyse(
    *,
    slots: dict[int, datetime],
    interval: int,
    start: datetime,
    end: datetime,
    http_log: Path,
    worker_log: str,
) -> Result:
    result = Result()
    stored = sql_rows(
        "SELECT monitor_id, at, stored_at FROM bench_poll_stored WHERE at > %s AND at <= %s ORDER BY stored_at",
        [start, end],
    )
    dispatched = sql_rows(
        "SELECT monitor_id, slot, dispatched_at FROM bench_poll_dispatched WHERE slot > %s AND slot <= %s",
        [start, end],
    )
    expected = set()
    for pk, first in slots.items():
        slot = first
        while slot <= end:
            expected.add((pk, slot))
            slot += timedelta(seconds=interval)
    got = Counter((pk, at) for pk, at, _ in stored)
    result.expected_slots = len(expected)
    result.stored = len(stored)
    result.duplicates = sum(n - 1 for n in got.values() if n > 1)
    result.missed = len(expected - set(got))
    lags = [(stored_at - at).total_seconds() for _, at, stored_at in stored]
    result.lag = summary(lags)
    result.dispatch_lag = summary([(d - s).total_seconds() for _, s, d in dispatched])
    edges = [0.5, 1, 2, 3, 5, 10, 30, 60]
    lower = 0.0
    for edge in edges:
        result.lag_buckets.append((f"{lower:g}-{edge:g} s", sum(1 for x in lags if lower <= x < edge)))
        lower = edge
    result.lag_buckets.append((f">= {lower:g} s", sum(1 for x in lags if x >= lower)))

    # Coverage: every monitor polled within interval + slack all through the window.
    limit = interval + COVERAGE_SLACK_SECONDS
    per_monitor: dict[int, list[datetime]] = {}
    for pk, _, stored_at in stored:
        per_monitor.setdefault(pk, []).append(stored_at)
    worst = 0.0
    uncovered = 0
    for pk in slots:
        times = [start, *sorted(per_monitor.get(pk, [])), end]
        gap = max((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
        worst = max(worst, gap)
        uncovered += gap > limit
    result.worst_gap, result.uncovered_monitors = worst, uncovered

    # Throughput inside the window (stored, not scheduled).
    window = (end - start).total_seconds()
    result.polls_in_window = sum(1 for _, _, stored_at in stored if start < stored_at <= end)
    result.polls_per_second = result.polls_in_window / window

    arrivals = []
    with contextlib.suppress(OSError):
        for line in http_log.read_text().splitlines():
            with contextlib.suppress(ValueError, IndexError):
                arrivals.append(float(line.split()[0]))
    t0, t1 = start.timestamp(), end.timestamp()
    inside = [t for t in arrivals if t0 < t <= t1]
    result.http_requests = len(inside)
    per_second = Counter(int(t - t0) for t in inside)
    seconds = [per_second.get(i, 0) for i in range(int(window))]
    result.http_peak_per_second = max(seconds, default=0)
    result.http_per_second_p50 = percentile(sorted(seconds), 50) if seconds else 0

    polls_ms, dispatch_ms, per_run = [], [], []
    for task, seconds_text, value in TASK_DONE.findall(worker_log):
        if task == "monitoring.poll_monitor":
            polls_ms.append(float(seconds_text) * 1000)
            result.outcomes[value.strip().strip("'\"")] += 1
        elif task == "monitoring.dispatch_due_monitors":
            dispatch_ms.append(float(seconds_text) * 1000)
            with contextlib.suppress(ValueError):
                per_run.append(float(value))
    result.poll_task_ms = summary(polls_ms)
    result.dispatch_task_ms = summary(dispatch_ms)
    result.dispatch_runs = len(dispatch_ms)
    result.dispatch_per_run = summary(per_run)
    result.retries = len(TASK_RETRY.findall(worker_log))
    result.errors = len(TASK_ERROR.findall(worker_log))
    result.expired = len(EXPIRED.findall(worker_log))
    return result
