"""Bar-chart geometry for the HTML report: plain numbers the template turns into inline SVG.

A charting library would either fetch its JavaScript from a CDN (the report must open offline)
or embed megabytes of it; three bar charts are a few rectangles.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

DECISION_COLOURS = {
    "allow": "#4e9a54",
    "log": "#3b7dd8",
    "redact": "#e0a028",
    "withhold": "#e07a28",
    "block": "#d3413b",
    "error": "#7a4fa0",
    "would_redact": "#f2cf85",
    "would_withhold": "#f2b385",
    "would_block": "#f0958f",
}
OTHER_COLOUR = "#9a9a9a"
DECISION_ORDER = tuple(DECISION_COLOURS)


def colour(decision: str) -> str:
    return DECISION_COLOURS.get(decision, OTHER_COLOUR)


def decision_order(present: Sequence[str]) -> list[str]:
    known = [d for d in DECISION_ORDER if d in present]
    return known + sorted(d for d in present if d not in DECISION_COLOURS)


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    tip: str  # shown on hover (an SVG <title>)
    series: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    width: int
    height: int
    rects: list[Rect]
    labels: list[Label]
    gridlines: list[float]  # y (or x) positions of value gridlines


def stacked_columns(
    chart_id: str, buckets: list[tuple[dt.datetime, Counter[str]]], unit: str, width: int = 920, height: int = 280
) -> Chart:
    """Decisions over time: one column per bucket, stacked by decision."""
    left, right, top, bottom = 48, 10, 10, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((sum(c.values()) for _, c in buckets), default=0) or 1
    step = plot_w / max(len(buckets), 1)
    order = decision_order(sorted({d for _, c in buckets for d in c}))
    rects, labels = [], []
    every = max(1, len(buckets) // 10)  # at most ~10 time labels, so they never overlap
    fmt = {"hour": "%m-%d %H:00", "month": "%Y-%m"}.get(unit, "%Y-%m-%d")
    for i, (start, counts) in enumerate(buckets):
        x = left + i * step
        base = top + plot_h
        for decision in order:
            n = counts.get(decision, 0)
            if not n:
                continue
            h = plot_h * n / peak
            base -= h
            rects.append(Rect(round(x + step * 0.1, 2), round(base, 2), round(max(step * 0.8, 1), 2), round(h, 2),
                              colour(decision), f"{start:{fmt}}: {n} {decision}", decision))
        if i % every == 0:
            labels.append(Label(round(x + step / 2, 2), height - 14, f"{start:{fmt}}"))
    ticks = _ticks(peak)
    gridlines = [round(top + plot_h - plot_h * t / peak, 2) for t in ticks]
    labels += [Label(left - 6, y + 4, str(t), "end") for t, y in zip(ticks, gridlines)]
    return Chart(chart_id, width, height, rects, labels, gridlines)


def horizontal_bars(
    chart_id: str, rows: list[tuple[str, Counter[str]]], width: int = 920, row_height: int = 26
) -> Chart:
    """One bar per row (a finding kind, a tenant), stacked by series when there are several."""
    left, right = 200, 70
    plot_w = width - left - right
    height = max(row_height * len(rows) + 10, 40)
    peak = max((sum(c.values()) for _, c in rows), default=0) or 1
    order = decision_order(sorted({s for _, c in rows for s in c}))
    rects, labels = [], []
    for i, (name, counts) in enumerate(rows):
        y = 5 + i * row_height
        x = float(left)
        for series in order:
            n = counts.get(series, 0)
            if not n:
                continue
            w = plot_w * n / peak
            rects.append(Rect(round(x, 2), y + 3, round(max(w, 1), 2), row_height - 8,
                              colour(series) if series in DECISION_COLOURS else "#3b7dd8", f"{name}: {n} {series}", series))
            x += w
        labels.append(Label(left - 8, y + row_height / 2 + 4, _clip(name, 28), "end"))
        labels.append(Label(round(x + 6, 2), y + row_height / 2 + 4, str(sum(counts.values())), "start"))
    return Chart(chart_id, width, height, rects, labels, [])


def _ticks(peak: int) -> list[int]:
    if peak <= 4:
        return list(range(0, peak + 1))
    return [0, round(peak / 2), peak]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
