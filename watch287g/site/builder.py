"""``watch287g report``: the static site of the history.

A folder that opens from disk and needs no network: the national page with
its county map, charts and recent events; a page per state with its roster,
map, chart and events; the Atom feeds; the open-data files; optionally the
archived workbooks it cites. Links are relative, scripts live in
``assets/report.js`` (no inline script), so any static host — or the web
app — can serve it as it is.

The folder is built beside its destination and swapped in whole, so a
reader never sees half a report; a folder that is not a watch287g report
(no marker file) is never replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path

from filelock import FileLock, Timeout
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from watch287g import export, feeds, stats
from watch287g.alerts.describe import describe, display_name, short_sha, when
from watch287g.core import __version__
from watch287g.core.errors import BusyError, UserError
from watch287g.core.normalize import STATES
from watch287g.core.timeutil import parse_iso, to_iso
from watch287g.counties import county_index, state_fips
from watch287g.history import History
from watch287g.site import charts, maps
from watch287g.site.timeline import Point, timeline
from watch287g.site.geometry import geometry

MARKER = ".watch287g-report"
RECENT_EVENTS = 50            # on the national page
STATE_EVENTS = 100            # on a state's page
MODEL_SERIES = (("JEM", "Jail Enforcement Model", "s-jem"), ("TFM", "Task Force Model", "s-tfm"),
                ("WSO", "Warrant Service Officer", "s-wso"))


def _series(points: list[Point], state: str | None) -> list[charts.Series]:
    def participating(point: Point) -> dict:
        return point.participating["by_state"].get(state, {}) if state else point.participating["by_model"]

    def pending(point: Point) -> int:
        if point.pending is None:
            return 0
        return sum(point.pending["by_state"].get(state, {}).values()) if state else point.pending["total"]

    series = [charts.Series("All agreements", "s-total", [(p.day, sum(participating(p).values())) for p in points])]
    series += [charts.Series(code, css, [(p.day, participating(p).get(code, 0)) for p in points])
               for code, _, css in MODEL_SERIES]
    series.append(charts.Series("Pending", "s-pending", [(p.day, pending(p)) for p in points]))
    return series


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("watch287g.site", "templates"),
                      autoescape=select_autoescape(("html", "j2")), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=lambda n: f"{n:,}" if isinstance(n, int) else "—", when=when,
                       short_sha=short_sha, display_name=display_name,
                       day=lambda iso: f"{parse_iso(iso):%B} {parse_iso(iso).day}, {parse_iso(iso).year}")
    env.globals.update(states=STATES, models=MODEL_SERIES, legend=maps.legend())
    return env


class ReportBuilder:
    def __init__(self, history: History, as_of: dt.datetime, base_url: str | None, with_archive: bool) -> None:
        self.history = history
        self.as_of = as_of
        self.base_url = base_url
        self.with_archive = with_archive
        self.match = county_index().match
        self.geometry = geometry()
        self.env = _environment()
        self.events = [e for e in history.events() if parse_iso(e["observed_at"]) <= as_of]
        self.list_events = history.list_events()     # stats takes the as-of year's up to as_of
        self.participating, self.pending = history.lists_at(as_of)
        self.archived: set[str] = set()       # sha256 of the workbooks the pages cite
        self.states: list[str] = []           # those with a page

    def figures(self, state: str | None = None) -> dict:
        return stats.picture(self.as_of, self.participating, self.pending, self.list_events, self.match, state)

    def build(self, folder: Path) -> dict:
        national = self.figures()
        points = timeline(self.history, self.as_of)
        record, roster = self.participating
        roster_rows = export.roster_rows(record, roster, self.history.agreements(), self.match)
        pending_rows = export.roster_rows(self.pending[0], self.pending[1], self.history.applications(),
                                          self.match) if self.pending else []
        public = export.public_events(self.events)
        self.states = states = sorted((set(national["by_state"]) | {r["state"] for r in pending_rows if r["state"]}
                         | {e["state"] for e in public if e.get("state")}) - {stats.UNKNOWN})
        feed_plan = feeds.plan_feeds(self.events, states)
        common = {"as_of": to_iso(self.as_of), "generated": to_iso(dt.datetime.now(dt.timezone.utc)),
                  "version": __version__, "national": national, "state_list": states,
                  "type_feeds": [f for f in feed_plan if f.path.startswith(f"{feeds.FEED_DIR}/types/")],
                  "with_archive": self.with_archive,
                  "live": record, "live_pending": self.pending[0] if self.pending else None}
        self._write_data(folder, national, roster_rows, pending_rows, public, points)
        self._render(folder / "index.html", "index.html", root="", **common,
                     state_models=stats.list_counts(roster.rows)["by_state"],
                     **self._page(national, None, roster, roster_rows, public[-RECENT_EVENTS:], points))
        for state in states:
            figures = self.figures(state)
            self._render(folder / "states" / f"{state}.html", "state.html", root="../", state=state, **common,
                         **self._page(figures, state, roster, [r for r in roster_rows if r["state"] == state],
                                      [e for e in public if e.get("state") == state][-STATE_EVENTS:], points),
                         pending_rows=[r for r in pending_rows if r["state"] == state])
        feeds.write_feeds(folder, feed_plan, self.base_url, self.as_of, self.with_archive)
        for event in (e for f in feed_plan for e in f.events):
            self._cite(event)
        self._copy_static(folder)
        if self.with_archive:
            self._publish_archive(folder)
        return {"as_of": to_iso(self.as_of), "states": len(states), "feeds": len(feed_plan),
                "counties_covered": national["counties_covered"], "list_file": record.file_name}

    def _page(self, figures: dict, state: str | None, roster, rows: list[dict], events: list[dict],
              points: list[Point]) -> dict:
        label = STATES.get(state, state) if state else "the United States"
        day = f"{self.as_of:%B} {self.as_of.day}, {self.as_of.year}"
        coverage = stats.county_coverage(stats.in_state(roster.rows, state), self.match)
        title = f"Counties covered by 287(g) agreements in {label}, as of {day}"
        description = (f"{figures['counties_covered'] or 0} counties shaded by their number of agreements; "
                       "the table below lists them.")
        if state:
            svg = maps.state_map(self.geometry, state, state_fips(state) or "", figures["counties"], title, description)
        else:
            svg = maps.national_map(self.geometry, figures["counties"], title, description, set(self.states))
        series = _series(points, state)
        weeks = stats.signed_by_week(stats.in_state(roster.rows, state), self.as_of.year)
        line = charts.line_chart("over-time", f"287(g) agreements on ICE's lists, {label}",
                                 "Agreements on the participating list at the end of each week, by model, "
                                 "and applications on the pending list; the table below has the numbers.", series)
        bars = charts.bar_chart("per-week", f"Agreements signed per week in {self.as_of.year}, {label}",
                                "Agreements on the current list by the week of their SIGNED date; the table "
                                "below has the numbers.", list(weeks.items()))
        for event in events:
            self._cite(event)
        return {"figures": figures, "sentence": stats.sentence(figures), "map": svg, "coverage": coverage,
                "line_chart": line, "series": series, "bar_chart": bars, "weeks": weeks, "roster": rows,
                "events": [self._event_view(e) for e in reversed(events)]}

    def _cite(self, event: dict) -> None:
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        if source.get("sha256"):
            self.archived.add(source["sha256"])

    def _event_view(self, event: dict) -> dict:
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        return {"id": event["id"], "observed_at": event["observed_at"], "view": describe(event),
                "sha256": source.get("sha256"), "file_name": source.get("file_name")}

    def _render(self, target: Path, template: str, **context) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.env.get_template(template).render(**context), encoding="utf-8")

    def _write_data(self, folder: Path, national: dict, roster_rows: list[dict], pending_rows: list[dict],
                    public: list[dict], points: list[Point]) -> None:
        data = folder / "data"
        data.mkdir(parents=True)
        (data / "stats.json").write_text(json.dumps(national, indent=1, ensure_ascii=False) + "\n")
        for name, rows, columns in (("roster-participating", roster_rows, export.ROSTER_COLUMNS),
                                    ("roster-pending", pending_rows, export.ROSTER_COLUMNS),
                                    ("events", export.event_rows(public), export.EVENT_COLUMNS)):
            for fmt in export.FORMATS:
                (data / f"{name}.{fmt}").write_text(export.render(rows, columns, fmt), encoding="utf-8")
        (data / "timeline.json").write_text(json.dumps(
            [{"date": p.day.isoformat(), "participating": p.participating, "pending": p.pending} for p in points])
            + "\n")

    def _copy_static(self, folder: Path) -> None:
        assets = folder / "assets"
        assets.mkdir()
        for item in resources.files("watch287g.site").joinpath("static").iterdir():
            (assets / item.name).write_bytes(item.read_bytes())

    def _publish_archive(self, folder: Path) -> None:
        """The cited workbooks, hard-linked from the archive where the
        filesystem allows (they never change), else copied."""
        target = folder / "archive"
        target.mkdir()
        self.archived |= {self.participating[0].sha256} | ({self.pending[0].sha256} if self.pending else set())
        for sha in sorted(self.archived):
            source = self.history.archive_path(sha)
            if not source.exists():
                continue
            try:
                os.link(source, target / f"{sha}.xlsx")
            except OSError:
                shutil.copyfile(source, target / f"{sha}.xlsx")


def _check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UserError(f"{out} exists and is not a watch287g report folder (no {MARKER} file): "
                        "choose a new or empty folder")


def build_report(history: History, out: Path, as_of: dt.datetime, base_url: str | None = None,
                 with_archive: bool = False) -> dict:
    """Build the report for ``as_of`` and put it at ``out`` in one swap."""
    started = time.perf_counter()
    out = out.resolve()
    _check_destination(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out.parent / f".{out.name}.lock"))
    try:
        lock.acquire(timeout=60)
    except Timeout:
        raise BusyError(f"another watch287g report is being written to {out}") from None
    staging = out.parent / f".{out.name}.building-{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        summary = ReportBuilder(history, as_of, base_url, with_archive).build(staging)
        (staging / MARKER).write_text(json.dumps({"as_of": summary["as_of"], "version": __version__}) + "\n")
        _swap(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock.release()
    return {**summary, "out": str(out), "seconds": round(time.perf_counter() - started, 2)}


def _swap(staging: Path, out: Path) -> None:
    """Replace ``out`` with ``staging``: two renames, so ``out`` is missing
    for an instant at most, and never half written."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)
