"""The lists over time: what was live at the end of every week.

Each point counts the rows of the lists live then, by model and by state
(stats.list_counts). A list's counts never change (a list is its sha256),
so they are kept in ``DATA_DIR/cache/list-counts.json``: a report rebuilt
after a check reads only the lists it has not counted before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from watch287g import stats
from watch287g.core import __version__
from watch287g.history import History, ListRecord
from watch287g.site import cache

# The reader and stats.list_counts decide the counts: a new version recounts.
CACHE_KEY = f"list-counts-1/{__version__}"


@dataclass
class Point:
    """The lists live at one moment of the timeline."""

    day: dt.date
    participating: dict             # stats.list_counts of the participating list
    pending: dict | None


class CountsCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: dict[str, dict] = cache.load(path, CACHE_KEY) or {}
        self.dirty = False

    def of(self, record: ListRecord, history: History) -> dict:
        if record.sha256 not in self.counts:
            self.counts[record.sha256] = stats.list_counts(history.roster(record).rows)
            self.dirty = True
        return self.counts[record.sha256]

    def save(self) -> None:
        if self.dirty:
            cache.store(self.path, CACHE_KEY, self.counts)


def timeline_moments(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """The end of every week (Sunday, 23:59:59 UTC) from the first list's
    week, then ``last`` itself."""
    sunday = first.date() + dt.timedelta(days=6 - first.weekday())
    moments = []
    while (moment := dt.datetime.combine(sunday, dt.time(23, 59, 59), dt.timezone.utc)) < last:
        moments.append(moment)
        sunday += dt.timedelta(weeks=1)
    return moments + [last]


def timeline(history: History, as_of: dt.datetime) -> list[Point]:
    lists = history.lists("participating")
    if not lists:
        return []
    cache = CountsCache(history.cache_dir() / "list-counts.json")
    points = []
    for moment in timeline_moments(lists[0].moment, as_of):
        participating = history.live_list("participating", moment)
        pending = history.live_list("pending", moment)
        points.append(Point(moment.date(), cache.of(participating, history),
                            cache.of(pending, history) if pending else None))
    cache.save()
    return points
