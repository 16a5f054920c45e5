"""Server-side SVG charts: plain functions from numbers to SVG markup.

Pages render charts on the server so they work offline and under the strict
CSP: no script, no ``style=`` attribute, only presentation attributes and the
``.chart`` classes of ``static/css/app.css``. Every text put into the markup
(titles, units, labels) is escaped here, which is what makes the ``mark_safe``
at the end honest. Each chart is an ``<svg role="img">`` with a ``<title>`` and
an ``aria-label`` that says in words what the chart shows.

Times are drawn in the time zone passed in (the page's current time zone by
default), values with their unit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
# Room for the value labels (left) and the time labels (bottom).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 72, 16, 12, 40
# A line chart draws at most this many points; longer series are thinned.
MAX_POINTS = 360
# A gap this many times the usual spacing between samples breaks the line.
GAP_FACTOR = 3.0

TIME_STEPS = (
    [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30)]
    + [timedelta(hours=h) for h in (1, 2, 3, 6, 12)]
    + [timedelta(days=d) for d in (1, 2, 7)]
)

BAR_SERIES: tuple[tuple[str, str], ...] = (("created", "Created"), ("resolved", "Resolved"), ("escalated", "Escalated"))

Point = tuple[datetime, float]
BandPoint = tuple[datetime, float, float]


# --- small helpers ---------------------------------------------------------------------


def _esc(text: object) -> str:
    """Text safe inside an element or a double-quoted attribute."""
    return escape(str(text), quote=True)


def _n(number: float) -> str:
    """A coordinate: one decimal, no trailing zeros."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _finite(number: float | None) -> bool:
    return number is not None and not isinstance(number, bool) and math.isfinite(number)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2, 2.5 or 5 times a
    power of ten, about ``count`` of them. The first and last ticks are the axis
    ends. An empty range is widened so a flat series sits mid-chart."""
    if not (_finite(low) and _finite(high)):
        raise ValueError("low and high must be finite numbers")
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def format_value(value: float, unit: str = "", *, step: float | None = None) -> str:
    """A value with its unit, with as many decimals as the tick step needs."""
    if step is not None and step > 0:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        if step * 10**decimals % 1 > 1e-9:  # 2.5, 0.25: one more decimal
            decimals += 1
    else:
        decimals = 0 if abs(value) >= 100 or value == int(value) else 2
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def time_ticks(start: datetime, end: datetime, tz: tzinfo, count: int = 8) -> list[datetime]:
    """Round instants in ``[start, end]`` (on the hour, on the quarter...) in ``tz``,
    about ``count`` of them."""
    span = end - start
    step = next((s for s in TIME_STEPS if span / s <= count), TIME_STEPS[-1])
    local = start.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        tick = midnight
    else:
        elapsed = local - midnight
        tick = midnight + step * math.ceil(elapsed / step)
    ticks = []
    while tick <= end:
        if tick >= start:
            ticks.append(tick)
        tick = (tick + step).astimezone(tz)
    return ticks


def _time_label(moment: datetime, span: timedelta, step_days: bool) -> str:
    if step_days:
        return moment.strftime("%a %d %b")
    if span <= timedelta(days=1):
        return moment.strftime("%H:%M")
    return moment.strftime("%a %H:%M")


def downsample(points: Sequence[Point], max_points: int, *, keep: str = "max") -> list[Point]:
    """At most ``max_points`` points: consecutive points grouped in equal runs, each
    run kept as its worst value (``keep="max"`` or ``"min"``) at that value's
    instant, so a spike survives thinning."""
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if keep not in ("max", "min"):
        raise ValueError('keep must be "max" or "min"')
    if len(points) <= max_points:
        return list(points)
    size = math.ceil(len(points) / max_points)
    pick = max if keep == "max" else min
    return [pick(points[i : i + size], key=lambda p: p[1]) for i in range(0, len(points), size)]


class _Plot:
    """Maps data to the drawing area of a ``width`` x ``height`` view box."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM

    def y(self, value: float, low: float, high: float) -> float:
        return self.bottom - (value - low) / (high - low) * (self.bottom - self.top)

    def open(self, label: str, title: str) -> list[str]:
        return [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {self.width} {self.height}" '
            f'role="img" aria-label="{_esc(label)}" preserveAspectRatio="xMidYMid meet" focusable="false">',
            f"<title>{_esc(title)}</title>",
            f"<desc>{_esc(label)}</desc>",
        ]

    def value_axis(self, ticks: list[float], unit: str) -> list[str]:
        low, high = ticks[0], ticks[-1]
        step = ticks[1] - ticks[0] if len(ticks) > 1 else None
        parts = ["<g>"]
        for tick in ticks:
            y = _n(self.y(tick, low, high))
            parts.append(f'<line class="grid-line" x1="{self.left}" x2="{self.right}" y1="{y}" y2="{y}"/>')
            parts.append(
                f'<text x="{self.left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle">'
                f"{_esc(format_value(tick, unit, step=step))}</text>"
            )
        parts.append(f'<line class="axis" x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{self.bottom}"/>')
        parts.append(f'<line class="axis" x1="{self.left}" x2="{self.right}" y1="{self.bottom}" y2="{self.bottom}"/>')
        parts.append("</g>")
        return parts

    def no_data(self, label: str, title: str, message: str) -> SafeString:
        parts = self.open(label, title)
        parts.append(
            f'<rect class="frame" x="{self.left}" y="{self.top}" width="{self.right - self.left}" '
            f'height="{self.bottom - self.top}" fill="none"/>'
        )
        parts.append(
            f'<text class="no-data" x="{_n((self.left + self.right) / 2)}" y="{_n((self.top + self.bottom) / 2)}" '
            f'text-anchor="middle" dominant-baseline="middle">{_esc(message)}</text>'
        )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# --- line chart ------------------------------------------------------------------------


def _segments(points: Sequence[Point]) -> list[list[Point]]:
    """Runs of points without a gap: a pause in the data is not drawn as a line."""
    if len(points) < 3:
        return [list(points)] if points else []
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(points, points[1:], strict=False)]
    usual = statistics.median(g for g in gaps if g > 0) if any(g > 0 for g in gaps) else 0
    runs: list[list[Point]] = [[points[0]]]
    for gap, point in zip(gaps, points[1:], strict=False):
        if usual and gap > GAP_FACTOR * usual:
            runs.append([])
        runs[-1].append(point)
    return runs


def line_chart(
    points: Iterable[Point],
    *,
    title: str,
    unit: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    band: Sequence[BandPoint] | None = None,
    thresholds: Mapping[str, float | None] | None = None,
    tz: tzinfo | None = None,
    keep: str = "max",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """A line of ``(instant, value)`` points over ``[start, end]`` (default: the
    points' own span), with an optional baseline band (``(instant, lower, upper)``
    drawn as a filled polygon) and horizontal ``warning`` / ``critical`` threshold
    lines. Non-finite values and points outside the span are left out; long series
    are thinned to :data:`MAX_POINTS` keeping the worst value (``keep``)."""
    tz = tz or timezone.get_current_timezone()
    plot = _Plot(width, height)
    data = sorted((at, float(v)) for at, v in points if _finite(v))
    if start is None and data:
        start = data[0][0]
    if end is None and data:
        end = data[-1][0]
    if start is not None and end is not None:
        data = [p for p in data if start <= p[0] <= end]
    if not data or start is None or end is None:
        return plot.no_data(f"{title}: no data for this period.", title, "No data for this period")
    if end <= start:
        start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
    values = [v for _, v in data]
    latest, count = data[-1][1], len(data)
    data = downsample(data, MAX_POINTS, keep=keep)
    bands = [(at, lo, hi) for at, lo, hi in (band or ()) if _finite(lo) and _finite(hi)]
    lines = [
        (name, float(v)) for name, v in (thresholds or {}).items() if name in ("warning", "critical") and _finite(v)
    ]

    extent = values + [lo for _, lo, _ in bands] + [hi for _, _, hi in bands] + [v for _, v in lines]
    ticks = nice_ticks(min(extent), max(extent))
    low, high = ticks[0], ticks[-1]
    span_s = (end - start).total_seconds()

    def x(at: datetime) -> float:
        offset = min(max((at - start).total_seconds(), 0.0), span_s)
        return plot.left + offset / span_s * (plot.right - plot.left)

    def y(value: float) -> float:
        return plot.y(value, low, high)

    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    zone = local_end.tzname() or str(tz)
    label = _line_summary(title, unit, values, latest, count, local_start, local_end, zone, lines, bands)
    parts = plot.open(label, title)
    parts += plot.value_axis(ticks, unit)

    # Time axis
    span = end - start
    marks = time_ticks(start, end, tz)
    step_days = len(marks) > 1 and marks[1] - marks[0] >= timedelta(days=1)
    parts.append("<g>")
    for mark in marks:
        mx = _n(x(mark))
        parts.append(f'<line class="axis" x1="{mx}" x2="{mx}" y1="{plot.bottom}" y2="{plot.bottom + 4}"/>')
        parts.append(
            f'<text x="{mx}" y="{plot.bottom + 16}" text-anchor="middle">{_esc(_time_label(mark, span, step_days))}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{_n((plot.left + plot.right) / 2)}" y="{height - 4}" text-anchor="middle">'
        f"{_esc(f'Time ({zone})')}</text>"
    )
    parts.append("</g>")

    if bands:
        ordered = sorted(bands)
        upper = " ".join(f"{_n(x(at))},{_n(y(hi))}" for at, _, hi in ordered)
        lower = " ".join(f"{_n(x(at))},{_n(y(lo))}" for at, lo, _ in reversed(ordered))
        parts.append(f'<polygon class="band" points="{upper} {lower}"><title>Baseline band</title></polygon>')
    for name, value in lines:
        ty = _n(y(value))
        parts.append(
            f'<line class="threshold-{name}" x1="{plot.left}" x2="{plot.right}" y1="{ty}" y2="{ty}">'
            f"<title>{_esc(f'{name.capitalize()} threshold: {format_value(value, unit)}')}</title></line>"
        )
    strokes = []
    for run in _segments(data):
        if len(run) == 1:  # a lone sample between gaps: a dot, as a line needs two
            at, value = run[0]
            parts.append(f'<circle class="point" cx="{_n(x(at))}" cy="{_n(y(value))}" r="2.5"/>')
        else:
            strokes.append(" ".join(f"{'M' if i == 0 else 'L'}{_n(x(at))},{_n(y(v))}" for i, (at, v) in enumerate(run)))
    if strokes:
        parts.append(f'<path class="line" d="{" ".join(strokes)}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _line_summary(
    title: str,
    unit: str,
    values: list[float],
    latest: float,
    count: int,
    local_start: datetime,
    local_end: datetime,
    zone: str,
    lines: list[tuple[str, float]],
    bands: list[BandPoint],
) -> str:
    when = "%d %b %H:%M"
    text = (
        f"{title}: {count} sample{'' if count == 1 else 's'} from {local_start.strftime(when)} to {local_end.strftime(when)} ({zone}); "
        f"lowest {format_value(min(values), unit)}, highest {format_value(max(values), unit)}, "
        f"latest {format_value(latest, unit)}."
    )
    if lines:
        text += " " + ", ".join(f"{name} threshold {format_value(v, unit)}" for name, v in lines) + "."
    if bands:
        lows, highs = [lo for _, lo, _ in bands], [hi for _, _, hi in bands]
        text += f" Baseline band {format_value(min(lows), unit)} to {format_value(max(highs), unit)}."
    return text


# --- grouped bar chart -----------------------------------------------------------------


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def bar_chart(
    days: Sequence[Mapping[str, object]],
    *,
    title: str,
    series: Sequence[tuple[str, str]] = BAR_SERIES,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Bars per day, one per series (``created``, ``resolved``, ``escalated`` by
    default, classes ``bar-<key>``), for rows like ``{"date": "2025-03-10",
    "created": 4, ...}`` (``date`` a date or an ISO string). Each bar has a
    ``<title>`` with its day and count."""
    plot = _Plot(width, height)
    if not days:
        return plot.no_data(f"{title}: no data.", title, "No data")
    rows = [(_as_date(row["date"]), {key: int(row.get(key) or 0) for key, _ in series}) for row in days]
    top = max([count for _, counts in rows for count in counts.values()] + [1])
    # Whole numbers only: a count of tickets has no quarter steps.
    ticks = [t for t in nice_ticks(0, top, count=5) if t == int(t)]
    if ticks[-1] < top:
        ticks.append(float(top))
    low, high = 0.0, ticks[-1]

    totals = {key: sum(counts[key] for _, counts in rows) for key, _ in series}
    label = (
        f"{title}, {rows[0][0]:%d %b} to {rows[-1][0]:%d %b}: "
        + ", ".join(f"{name.lower()} {totals[key]}" for key, name in series)
        + " in total."
    )
    parts = plot.open(label, title)
    parts += plot.value_axis(ticks, "")

    group = (plot.right - plot.left) / len(rows)
    bar = group * 0.8 / len(series)
    for index, (day, counts) in enumerate(rows):
        gx = plot.left + index * group + group * 0.1
        parts.append("<g>")
        for position, (key, name) in enumerate(series):
            count = counts[key]
            top_y = plot.y(count, low, high)
            parts.append(
                f'<rect class="bar-{_esc(key)}" x="{_n(gx + position * bar)}" y="{_n(top_y)}" '
                f'width="{_n(max(bar - 1, 1))}" height="{_n(plot.bottom - top_y)}">'
                f"<title>{_esc(f'{day:%a %d %b}: {count} {name.lower()}')}</title></rect>"
            )
        parts.append(
            f'<text x="{_n(plot.left + index * group + group / 2)}" y="{plot.bottom + 16}" text-anchor="middle">'
            f"{_esc(f'{day:%a %d}')}</text>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
