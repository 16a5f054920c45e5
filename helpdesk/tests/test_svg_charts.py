"""Server-side SVG charts: well-formed, in range, escaped, honest when empty."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from helpdesk import svg_charts

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a Monday
HOSTILE = '</svg><script>alert("x")</script><b onclick="x">'
APP_CSS = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything not well-formed
    assert root.tag == f"{SVG}svg"
    return root


def series(n: int, *, step: timedelta = timedelta(minutes=1), start: datetime = T0, value=lambda i: 100 + i % 10):
    return [(start + i * step, float(value(i))) for i in range(n)]


def path_points(root: ET.Element) -> list[tuple[float, float]]:
    points = []
    for path in root.iter(f"{SVG}path"):
        points += [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", path.get("d"))]
    return points


def plot_area(width: int = svg_charts.WIDTH, height: int = svg_charts.HEIGHT) -> tuple[float, float, float, float]:
    return svg_charts.MARGIN_LEFT, width - svg_charts.MARGIN_RIGHT, svg_charts.MARGIN_TOP, height - svg_charts.MARGIN_BOTTOM


def assert_presentation_only(root: ET.Element) -> None:
    """No style attribute, no event handler, no script, and every class is one app.css styles."""
    for element in root.iter():
        assert element.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject")
        assert "style" not in element.attrib
        assert not any(name.lower().startswith("on") for name in element.attrib)
        for name in (element.get("class") or "").split():
            assert re.search(rf"\.{re.escape(name)}\b", APP_CSS), f"class {name} is not in app.css"


# --- helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high"), [(0, 1), (3.2, 97.1), (-0.3, 0.7), (1234, 98765), (0.0012, 0.0049), (-50, -10)]
)
def test_nice_ticks_cover_the_range_with_round_even_steps(low, high):
    ticks = svg_charts.nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)
    assert 3 <= len(ticks) <= 8


def test_a_flat_series_gets_a_range_around_it():
    ticks = svg_charts.nice_ticks(5, 5)
    assert ticks[0] < 5 < ticks[-1]
    assert svg_charts.nice_ticks(0, 0)[0] < 0 < svg_charts.nice_ticks(0, 0)[-1]


def test_values_carry_their_unit():
    assert svg_charts.format_value(1500, "ms", step=500) == "1,500 ms"
    assert svg_charts.format_value(2.5, "%", step=2.5) == "2.5%"
    assert svg_charts.format_value(0.25, "", step=0.25) == "0.25"
    assert svg_charts.format_value(-0.0001, "ms", step=1) == "0 ms"


def test_downsampling_keeps_the_worst_value_of_each_run():
    points = series(1000, value=lambda i: 500 if i == 617 else 10)
    thinned = svg_charts.downsample(points, 100)
    assert len(thinned) <= 100
    assert (points[617][0], 500.0) in thinned
    lows = svg_charts.downsample(series(1000, value=lambda i: -5 if i == 3 else 10), 50, keep="min")
    assert min(v for _, v in lows) == -5
    assert svg_charts.downsample(points[:10], 100) == points[:10]


def test_time_ticks_are_round_instants_in_the_given_zone():
    paris = ZoneInfo("Europe/Paris")
    ticks = svg_charts.time_ticks(T0 + timedelta(minutes=7), T0 + timedelta(hours=6), paris)
    assert ticks and all(t.minute == 0 and t.tzinfo == paris for t in ticks)
    assert ticks[0].hour == 12  # 10:07 UTC is 11:07 in Paris: the first whole hour after is 12:00


# --- line chart ---------------------------------------------------------------------------


def test_line_chart_is_well_formed_accessible_svg():
    svg = svg_charts.line_chart(series(120), title="Response time", unit="ms", tz=UTC)
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("class") == "chart"
    assert root.find(f"{SVG}title").text == "Response time"
    label = root.get("aria-label")
    assert label.startswith("Response time: 120 samples from 03 Mar 10:00 to 03 Mar 11:59 (UTC)")
    assert "lowest 100 ms, highest 109 ms" in label
    assert_presentation_only(root)


def test_every_drawn_point_lies_inside_the_plot_area():
    start = T0
    end = T0 + timedelta(hours=24)
    points = series(1440, value=lambda i: 50 + 40 * math.sin(i / 30))
    band = [(start, 20.0, 95.0), (end, 20.0, 95.0)]
    root = parse(
        svg_charts.line_chart(points, title="x", unit="ms", start=start, end=end, band=band, thresholds={"warning": 120})
    )
    left, right, top, bottom = plot_area()
    drawn = path_points(root)
    assert 0 < len(drawn) <= svg_charts.MAX_POINTS
    for x, y in drawn:
        assert left <= x <= right and top <= y <= bottom
    polygon = root.find(f"{SVG}polygon")
    for pair in polygon.get("points").split():
        x, y = map(float, pair.split(","))
        assert left <= x <= right and top <= y <= bottom


def test_points_outside_the_window_and_non_finite_values_are_left_out():
    start, end = T0, T0 + timedelta(hours=1)
    points = [
        (start - timedelta(hours=2), 1e9),
        (start + timedelta(minutes=10), 10.0),
        (start + timedelta(minutes=11), math.nan),
        (start + timedelta(minutes=12), math.inf),
        (start + timedelta(minutes=13), 12.0),
        (end + timedelta(hours=5), -1e9),
    ]
    root = parse(svg_charts.line_chart(points, title="t", start=start, end=end, tz=UTC))
    assert "2 samples" in root.get("aria-label")
    assert "highest 12" in root.get("aria-label")
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert not any("1,000,000,000" in (text or "") for text in labels)


def test_thresholds_are_horizontal_lines_at_their_value():
    root = parse(svg_charts.line_chart(series(60), title="t", thresholds={"warning": 200, "critical": 400, "outage": None}))
    lines = {line.get("class"): line for line in root.iter(f"{SVG}line") if "threshold" in (line.get("class") or "")}
    assert set(lines) == {"threshold-warning", "threshold-critical"}
    warning, critical = lines["threshold-warning"], lines["threshold-critical"]
    assert warning.get("y1") == warning.get("y2") and critical.get("y1") == critical.get("y2")
    assert float(critical.get("y1")) < float(warning.get("y1"))  # higher value, higher on screen
    assert "Critical threshold: 400" in critical.find(f"{SVG}title").text


def test_the_band_is_a_filled_polygon_between_lower_and_upper():
    start, end = T0, T0 + timedelta(hours=1)
    root = parse(
        svg_charts.line_chart(series(60), title="t", start=start, end=end, band=[(start, 90, 110), (end, 95, 115)])
    )
    polygon = root.find(f"{SVG}polygon")
    assert polygon.get("class") == "band"
    corners = [tuple(map(float, p.split(","))) for p in polygon.get("points").split()]
    assert len(corners) == 4
    (x1, y_up1), (x2, y_up2), (x3, y_lo2), (x4, y_lo1) = corners
    assert x1 < x2 and x3 == x2 and x4 == x1
    assert y_up1 < y_lo1 and y_up2 < y_lo2  # upper edge above lower edge
    assert "Baseline band 90 to 115" in root.get("aria-label")


def test_a_pause_in_the_data_breaks_the_line():
    points = series(30) + series(30, start=T0 + timedelta(hours=3))
    root = parse(svg_charts.line_chart(points, title="t"))
    (path,) = root.iter(f"{SVG}path")
    assert path.get("d").count("M") == 2


def test_a_lone_point_is_drawn_as_a_dot():
    root = parse(svg_charts.line_chart([(T0, 5.0)], title="t", start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=1)))
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_times_are_labelled_in_the_viewers_time_zone():
    paris = ZoneInfo("Europe/Paris")
    start = T0
    root = parse(svg_charts.line_chart(series(360), title="t", start=start, end=start + timedelta(hours=6), tz=paris))
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Time (CET)" in labels
    assert "12:00" in labels and "10:00" not in labels  # 11:00 UTC is 12:00 in Paris
    assert "03 Mar 11:00 to 03 Mar 17:00 (CET)" in root.get("aria-label")


def test_hostile_text_is_escaped_everywhere():
    svg = svg_charts.line_chart(
        series(10), title=HOSTILE, unit=HOSTILE, thresholds={"warning": 105}, band=[(T0, 1, 2), (T0, 1, 2)]
    )
    assert "<script" not in svg and "</svg><" not in svg[:-6]
    root = parse(svg)
    assert root.find(f"{SVG}title").text == HOSTILE  # the text survives, as text
    assert HOSTILE in root.get("aria-label")
    assert_presentation_only(root)
    assert svg.count("<svg") == 1 and svg.endswith("</svg>")


def test_no_data_is_said_not_drawn():
    for points in ([], [(T0, math.nan)], [(T0 - timedelta(days=2), 1.0)]):
        svg = svg_charts.line_chart(points, title=HOSTILE, start=T0, end=T0 + timedelta(hours=1))
        root = parse(svg)
        assert root.get("role") == "img"
        assert root.get("aria-label").endswith(": no data for this period.")
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data for this period"]
        assert not list(root.iter(f"{SVG}path"))
        assert_presentation_only(root)


# --- bar chart ----------------------------------------------------------------------------


def days(n: int = 7) -> list[dict]:
    first = date(2025, 3, 6)
    return [
        {"date": (first + timedelta(days=i)).isoformat(), "created": i + 1, "resolved": i, "escalated": i % 2}
        for i in range(n)
    ]


def test_bar_chart_draws_three_bars_a_day_scaled_to_their_count():
    root = parse(svg_charts.bar_chart(days(), title="Tickets per day"))
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == 21
    assert {r.get("class") for r in rects} == {"bar-created", "bar-resolved", "bar-escalated"}
    left, right, top, bottom = plot_area()
    created = [r for r in rects if r.get("class") == "bar-created"]
    heights = [float(r.get("height")) for r in created]
    assert heights == sorted(heights) and heights[0] > 0
    assert heights[6] / heights[0] == pytest.approx(7, rel=0.05)  # 7 created vs 1
    for rect in rects:
        x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
        assert left <= x and x + w <= right and top <= y and y + h <= bottom + 0.1
    assert created[0].find(f"{SVG}title").text == "Thu 06 Mar: 1 created"
    assert root.get("aria-label") == "Tickets per day, 06 Mar to 12 Mar: created 28, resolved 21, escalated 3 in total."
    assert_presentation_only(root)


def test_bar_chart_value_axis_counts_in_whole_numbers():
    root = parse(svg_charts.bar_chart([{"date": date(2025, 3, 6), "created": 1, "resolved": 0, "escalated": 0}], title="t"))
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "0" in labels and "1" in labels
    assert not any("." in (label or "") for label in labels)


def test_a_quiet_week_is_all_zero_bars_and_no_days_is_no_data():
    quiet = [{"date": d["date"], "created": 0, "resolved": 0, "escalated": 0} for d in days()]
    root = parse(svg_charts.bar_chart(quiet, title="t"))
    assert all(float(r.get("height")) == 0 for r in root.iter(f"{SVG}rect"))
    empty = parse(svg_charts.bar_chart([], title=HOSTILE))
    assert empty.get("aria-label") == f"{HOSTILE}: no data."
    assert not [r for r in empty.iter(f"{SVG}rect") if (r.get("class") or "").startswith("bar-")]


def test_bar_chart_escapes_series_names_and_titles():
    svg = svg_charts.bar_chart(days(2), title=HOSTILE, series=(("created", HOSTILE),))
    assert "<script" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == HOSTILE
    assert all(HOSTILE.lower() in r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect"))
