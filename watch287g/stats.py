"""The picture of ICE's 287(g) lists at one moment, as a reporter cites it.

Pure functions over plain records: the rows of the participating and pending
lists live at that moment, the event log and a county matcher go in; plain
dicts come out. ``history.py`` finds those lists; ``cmd_report.py`` prints
the result; the report draws it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from watch287g.core import events as ev
from watch287g.core.normalize import STATES
from watch287g.core.records import Roster, Row
from watch287g.core.timeutil import parse_iso, to_iso
from watch287g.counties import County, CountyMatch
from watch287g.history import ListRecord
from watch287g.core.normalize import MODEL_CODES as MODEL_NAMES
from watch287g.report import CODE_OF_MODEL

STATEWIDE = "State Agency"
UNKNOWN = "unknown"

Matcher = Callable[[str | None, str | None], "CountyMatch | None"]


def model_code(model: str | None) -> str:
    return CODE_OF_MODEL.get(model or "", UNKNOWN)


def has_county_column(roster: Roster) -> bool:
    return "COUNTY" in roster.columns


def in_state(rows: Iterable[Row], state: str | None) -> list[Row]:
    return [r for r in rows if state is None or r.state == state]


@dataclass
class CoveredCounty:
    county: County
    agreements: int = 0
    models: Counter = field(default_factory=Counter)
    agencies: list[str] = field(default_factory=list)

    def record(self) -> dict:
        return {"fips": self.county.fips, "state": self.county.state, "name": self.county.name,
                "agreements": self.agreements, "by_model": dict(sorted(self.models.items()))}


@dataclass
class Coverage:
    """Which counties a list's agreements cover, and which rows could not be placed."""

    covered: dict[str, CoveredCounty] = field(default_factory=dict)      # FIPS -> county
    statewide: list[Row] = field(default_factory=list)                   # agency type "State Agency"
    no_county: list[Row] = field(default_factory=list)                   # COUNTY blank or N/A
    unmatched: dict[tuple[str | None, str], list[Row]] = field(default_factory=dict)
    matched_by: Counter = field(default_factory=Counter)                 # how names were matched

    def unmatched_records(self) -> list[dict]:
        return [{"state": state, "county": text, "agreements": len(rows),
                 "agencies": sorted({r.agency for r in rows})}
                for (state, text), rows in sorted(self.unmatched.items(), key=lambda kv: (kv[0][0] or "", kv[0][1]))]


def county_coverage(rows: Iterable[Row], match: Matcher) -> Coverage:
    """Statewide agencies and blank counties cover no county; every other
    row's COUNTY is matched within its state (counties.py)."""
    coverage = Coverage()
    for row in rows:
        if row.agency_type == STATEWIDE:
            coverage.statewide.append(row)
            continue
        found: CountyMatch | None = match(row.state, row.county)
        if found is None:
            coverage.no_county.append(row)
        elif found.county is None:
            coverage.unmatched.setdefault((row.state, row.county or ""), []).append(row)
        else:
            covered = coverage.covered.setdefault(found.county.fips, CoveredCounty(found.county))
            covered.agreements += 1
            covered.models[model_code(row.model)] += 1
            covered.agencies.append(row.agency)
            coverage.matched_by[found.how] += 1
    return coverage


def _by_count(counter: Counter) -> dict:
    """Largest first, ties by name: the order a reporter reads them in."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def list_counts(rows: list[Row]) -> dict:
    """Rows of a list by model, and by state and model: one point of a chart."""
    by_state: dict[str, Counter] = {}
    for row in rows:
        by_state.setdefault(row.state or UNKNOWN, Counter())[model_code(row.model)] += 1
    return {"total": len(rows), "by_model": dict(Counter(model_code(r.model) for r in rows)),
            "by_state": {state: dict(models) for state, models in by_state.items()}}


def signed_by_week(rows: Iterable[Row], year: int) -> dict[dt.date, int]:
    """Rows signed in ``year``, by the Monday of the week they were signed;
    every week of the year up to the last signing is present, zeros too."""
    weeks = Counter()
    for row in rows:
        if row.signed and int(row.signed[:4]) == year:
            day = dt.date.fromisoformat(row.signed)
            weeks[day - dt.timedelta(days=day.weekday())] += 1
    if not weeks:
        return {}
    january = dt.date(year, 1, 1)
    monday = january - dt.timedelta(days=january.weekday())
    return {monday + dt.timedelta(weeks=i): weeks.get(monday + dt.timedelta(weeks=i), 0)
            for i in range((max(weeks) - monday).days // 7 + 1)}


def picture(as_of: dt.datetime, participating: tuple[ListRecord, Roster],
            pending: tuple[ListRecord, Roster] | None, events: Iterable[dict], match: Matcher,
            state: str | None = None) -> dict:
    """The figures of the lists live at ``as_of`` (optionally one state's);
    ``events`` are those about the lists' agreements."""
    year = as_of.year
    result: dict = {"as_of": to_iso(as_of), "state": state, "year": year}
    record, roster = participating
    rows = in_state(roster.rows, state)
    result.update({
        "list_observed_at": record.observed_at, "list_file": record.file_name, "list_sha256": record.sha256,
        "list_has_county_column": has_county_column(roster),
        "agreements": len(rows),
        "agencies": len({(r.state, r.agency_key) for r in rows}),
        "by_state": _by_count(Counter(r.state or UNKNOWN for r in rows)),
        "by_model": _by_count(Counter(model_code(r.model) for r in rows)),
        "by_agency_type": _by_count(Counter(r.agency_type or UNKNOWN for r in rows)),
    })
    coverage = county_coverage(rows, match)
    if has_county_column(roster):
        result.update({
            "counties_covered": len(coverage.covered),
            "statewide_agreements": len(coverage.statewide),
            "agreements_without_county": len(coverage.no_county),
            "unmatched_counties": coverage.unmatched_records(),
            "counties": [c.record() for c in sorted(coverage.covered.values(), key=lambda c: c.county.fips)],
        })
    else:  # ICE's lists had no COUNTY column before 17 March 2025
        result.update({"counties_covered": None, "statewide_agreements": len(coverage.statewide),
                       "agreements_without_county": None, "unmatched_counties": [], "counties": []})
    result["signed_this_year"] = sum(1 for r in rows if r.signed and int(r.signed[:4]) == year)
    if pending is None:
        result.update({"pending": None, "pending_observed_at": None, "pending_file": None, "pending_sha256": None})
    else:
        pending_record, pending_roster = pending
        result.update({"pending": len(in_state(pending_roster.rows, state)),
                       "pending_observed_at": pending_record.observed_at,
                       "pending_file": pending_record.file_name, "pending_sha256": pending_record.sha256})
    result["terminated_this_year"] = sum(
        1 for e in events if e["type"] == ev.TERMINATED and (state is None or e.get("state") == state)
        and _in_year_until(e["observed_at"], year, as_of))
    return result


def _in_year_until(observed_at: str, year: int, as_of: dt.datetime) -> bool:
    moment = parse_iso(observed_at)
    return moment.year == year and moment <= as_of


def _number(n: int) -> str:
    return f"{n:,}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{_number(n)} {one if n == 1 else (many or one + 's')}"


def _day(iso_or_moment) -> str:
    moment = parse_iso(iso_or_moment) if isinstance(iso_or_moment, str) else iso_or_moment
    return f"{moment:%B} {moment.day}, {moment.year}"


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def sentence(figures: dict) -> str:
    """The picture as sentences a reporter can paste (and check: the list's
    file name and sha256 close it)."""
    where = STATES.get(figures["state"], figures["state"]) if figures["state"] else None
    states = figures["by_state"]
    subject = f"{where} had" if where else "ICE listed"
    spread = "" if where else f" in {_plural(len(states), 'state or territory', 'states and territories')}"
    parts = [f"As of {_day(figures['as_of'])}, {subject} {_plural(figures['agreements'], '287(g) agreement')} "
             f"with {_plural(figures['agencies'], 'agency', 'agencies')}{spread}."]
    if not where and states:
        (first, most), *others = list(states.items())[:3]
        parts.append(f"{STATES.get(first, first)} had the most ({_number(most)})"
                     + (", followed by " + " and ".join(f"{STATES.get(s, s)} ({_number(n)})" for s, n in others)
                        if others else "") + ".")
    if figures["by_model"]:
        parts.append("By model: " + ", ".join(f"{_number(n)} {MODEL_NAMES.get(m, m)}"
                                              for m, n in figures["by_model"].items()) + ".")
    parts.append(_counties_sentence(figures))
    parts.append(f"{_number(figures['signed_this_year'])} of them were signed in {figures['year']}.")
    if figures["pending"] is not None:
        parts.append(f"{_plural(figures['pending'], 'application')} {_was(figures['pending'])} pending.")
    terminated = figures["terminated_this_year"]
    parts.append(f"{_plural(terminated, 'agreement')} {_was(terminated)} confirmed terminated in "
                 f"{figures['year']} up to that day.")
    parts.append(f"Source: ICE's list {figures['list_file']}, live since {_day(figures['list_observed_at'])} "
                 f"(sha256 {figures['list_sha256'][:12]}).")
    return " ".join(parts)


def _counties_sentence(figures: dict) -> str:
    if figures["counties_covered"] is None:
        return "ICE's list then had no COUNTY column, so covered counties cannot be counted."
    apart = []
    if figures["statewide_agreements"]:
        apart.append(_plural(figures["statewide_agreements"], "agreement") + " of statewide agencies")
    if figures["agreements_without_county"]:
        apart.append(_plural(figures["agreements_without_county"], "agreement") + " without a county")
    unmatched = sum(u["agreements"] for u in figures["unmatched_counties"])
    if unmatched:
        apart.append(_plural(unmatched, "agreement") + " naming a county that could not be identified")
    return (f"They cover {_plural(figures['counties_covered'], 'county', 'counties')}"
            + (f" ({'; '.join(apart)} not counted)." if apart else "."))
