"""Open data: ICE's roster as it stood at a moment, and the event log.

Both have a stable, documented column set (docs/exports.md): columns are
only ever added at the end, never renamed or removed. CSV cells that a
spreadsheet would run as a formula are quoted with a leading apostrophe;
JSON is an array of objects with the same keys as the CSV's columns.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

from watch287g.core import events as ev
from watch287g.core.records import Roster, Row, agreement_key
from watch287g.history import ListRecord
from watch287g.report import CSV_FIELDS, flat_event, rows_to_csv
from watch287g.stats import Matcher

ROSTER_COLUMNS = (
    "state", "agency", "agency_type", "county", "county_fips", "county_name", "model", "signed",
    "moa_url", "addendum_url", "first_seen", "last_seen", "status_now", "uid",
    "list_kind", "list_file", "list_observed_at", "list_sha256", "row_line",
)
EVENT_COLUMNS = CSV_FIELDS
FORMATS = ("csv", "json")       # cmd_report offers the same


def roster_rows(record: ListRecord, roster: Roster, known: Iterable[dict], match: Matcher) -> list[dict]:
    """One dict per row of the list, with ROSTER_COLUMNS. ``known`` are the
    stored agreement (or application) records, which say when each was first
    and last seen and what became of it."""
    index = _RecordIndex(known)
    out = []
    for row in roster.rows:
        stored = index.find(row, record.observed_at)
        county = match(row.state, row.county)
        found = county.county if county is not None else None
        out.append({
            "state": row.state, "agency": row.agency, "agency_type": row.agency_type, "county": row.county,
            "county_fips": found.fips if found else None, "county_name": found.name if found else None,
            "model": row.model, "signed": row.signed, "moa_url": row.moa_url, "addendum_url": row.addendum_url,
            "first_seen": stored.get("first_seen"), "last_seen": stored.get("last_seen"),
            "status_now": stored.get("status"), "uid": stored.get("uid"),
            "list_kind": record.kind, "list_file": record.file_name, "list_observed_at": record.observed_at,
            "list_sha256": record.sha256, "row_line": row.line,
        })
    return out


class _RecordIndex:
    """Stored records by every key they have had: (state, agency, model)
    with the agency's current and earlier spellings, and (agency, signing
    date) for a record whose state or model ICE corrected since."""

    def __init__(self, known: Iterable[dict]) -> None:
        self.by_key: dict[str, list[dict]] = defaultdict(list)
        self.by_signing: dict[tuple, list[dict]] = defaultdict(list)
        for record in known:
            for agency_key in (record["agency_key"], *record.get("aliases", ())):
                self.by_key[agreement_key(record["state"], agency_key, record["model"])].append(record)
                self.by_signing[(agency_key, record.get("signed"))].append(record)

    def find(self, row: Row, observed_at: str) -> dict:
        """The record a row of a list observed at ``observed_at`` belongs to:
        one first seen by then, preferring the same signing date (a key can
        name an agreement that ended and a newer one)."""
        candidates = [r for r in self.by_key.get(row.key, ()) if r["first_seen"] <= observed_at] or \
            [r for r in self.by_signing.get((row.agency_key, row.signed), ()) if r["first_seen"] <= observed_at]
        same_date = [r for r in candidates if r.get("signed") == row.signed]
        pool = same_date or candidates
        return max(pool, key=lambda r: r["first_seen"]) if pool else {}


def public_events(events: Iterable[dict], include_operator: bool = False) -> list[dict]:
    """The log as published: agreement, pending and page events; the
    operator's (quarantines, health) only when asked for."""
    return [e for e in events if include_operator or e["type"] in ev.SUBSCRIBER_TYPES]


def event_rows(events: Iterable[dict]) -> list[dict]:
    return [flat_event(e) for e in events]


def render(rows: list[dict], columns: Iterable[str], fmt: str) -> str:
    columns = list(columns)
    if fmt == "csv":
        return rows_to_csv(({c: row.get(c) for c in columns} for row in rows), columns)
    if fmt == "json":   # one record a line: readable, diffable, and fast to write
        lines = (json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) for row in rows)
        return "[\n" + ",\n".join(lines) + "\n]\n"
    raise ValueError(f"unknown export format {fmt!r}")
