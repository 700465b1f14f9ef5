"""Charts drawn to inline SVG when the report is built: no script, no
library, nothing to load. Each chart has a title and a description for
screen readers; the page puts its data in a table beside it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from markupsafe import Markup

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 16, 34     # room for axis labels and the series' names


@dataclass
class Series:
    label: str
    css: str                                   # class that colours it (style.css)
    points: list[tuple[dt.date, int]]


def nice_ceiling(value: float) -> int:
    """The axis maximum: 1, 2, 2.5 or 5 times a power of ten, at least value."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(math.ceil(step * power))
    return int(10 * power)


def _ticks(maximum: int, count: int = 4) -> list[int]:
    step = maximum / count
    return [round(step * i) for i in range(count + 1)]


def _month_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    day = dt.date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            months.append(day)
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


class _Frame:
    """Maps dates and counts onto the plot area."""

    def __init__(self, first: dt.date, last: dt.date, maximum: int) -> None:
        self.first, self.span = first, max((last - first).days, 1)
        self.maximum = maximum

    def x(self, day: dt.date) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (day - self.first).days / self.span

    def y(self, value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / self.maximum)


def _axes(frame: _Frame, first: dt.date, last: dt.date) -> list[Markup]:
    parts = []
    for value in _ticks(frame.maximum):
        y = frame.y(value)
        parts.append(Markup('<line class="grid" x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>'
                            '<text class="tick" x="{}" y="{:.1f}" text-anchor="end">{:,}</text>')
                     .format(LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y + 4, value))
    for month in _month_ticks(first, last):
        x = frame.x(month)
        label = month.strftime("%b") if month.month != 1 else month.strftime("%Y")
        parts.append(Markup('<line class="axis" x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}"/>'
                            '<text class="tick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>')
                     .format(x, x, HEIGHT - BOTTOM, HEIGHT - BOTTOM + 5, x, HEIGHT - BOTTOM + 18, label))
    return parts


def _svg(chart_id: str, title: str, description: str, body: list[Markup]) -> Markup:
    return Markup('<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" '
                  'aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{title}</title>'
                  '<desc id="{id}-desc">{desc}</desc>{body}</svg>').format(
        id=chart_id, w=WIDTH, h=HEIGHT, title=title, desc=description, body=Markup("").join(body))


def line_chart(chart_id: str, title: str, description: str, series: list[Series]) -> Markup:
    """Counts over time, one line per series, each named at its end."""
    days = [d for s in series for d, _ in s.points]
    if not days:
        return Markup("")
    first, last = min(days), max(days)
    frame = _Frame(first, last, nice_ceiling(max(v for s in series for _, v in s.points)))
    body = _axes(frame, first, last)
    label_ys: list[float] = []
    for s in series:
        if not s.points:
            continue
        coords = " ".join(f"{frame.x(d):.1f},{frame.y(v):.1f}" for d, v in s.points)
        body.append(Markup('<polyline class="line {}" points="{}"/>').format(s.css, coords))
        end_y = _free_spot(frame.y(s.points[-1][1]), label_ys)
        body.append(Markup('<text class="series {}" x="{:.1f}" y="{:.1f}">{} {:,}</text>').format(
            s.css, frame.x(s.points[-1][0]) + 6, end_y + 4, s.label, s.points[-1][1]))
    return _svg(chart_id, title, description, body)


def _free_spot(y: float, taken: list[float], gap: float = 13) -> float:
    """A y for a line's end label that does not overlap the labels already placed."""
    while any(abs(y - other) < gap for other in taken):
        y += gap
    taken.append(y)
    return y


def bar_chart(chart_id: str, title: str, description: str, bars: list[tuple[dt.date, int]],
              css: str = "bar") -> Markup:
    """One bar per week (the date is the week's Monday)."""
    if not bars:
        return Markup("")
    first, last = bars[0][0], bars[-1][0] + dt.timedelta(days=7)
    frame = _Frame(first, last, nice_ceiling(max(v for _, v in bars)))
    body = _axes(frame, first, last)
    width = max(frame.x(first + dt.timedelta(days=7)) - frame.x(first) - 1, 1)
    for day, value in bars:
        if value:
            body.append(Markup('<rect class="{}" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}">'
                               '<title>week of {}: {:,}</title></rect>').format(
                css, frame.x(day), frame.y(value), width, frame.y(0) - frame.y(value), day.isoformat(), value))
    return _svg(chart_id, title, description, body)
