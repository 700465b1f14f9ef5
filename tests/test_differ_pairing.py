"""The differ's one-pass pairing and its quick update of unchanged rows.

The differ pairs records with a list's rows by key in one pass over the
records, and a record listed again with its values unchanged is only marked
seen there and then. These tests run the differ on rosters parsed from plain
cells (readers/roster.py) and check that the quick path changes nothing the
full update would decide: it must not apply to a changed value, a re-spelled
name, a merged or a missing record, and events still come in list order.
"""

from __future__ import annotations

import datetime as dt

from watch287g.core.records import Cell
from watch287g.readers.roster import parse_roster
from watch287g.state import differ
from watch287g.state.differ import ListSnapshot, diff_agreements, diff_pending
from watch287g.state.policy import Debounce, Policy

from tests.support.workbooks import PENDING_HEADER, PARTICIPATING_HEADER, agreement, sample_agreements

POLICY = Policy(gates={}, debounce=Debounce(min_missing_snapshots=2, min_missing_days=1))


def roster(rows: list[dict], header: list[str] = PARTICIPATING_HEADER):
    cells = [[Cell(name) for name in header]]
    for row in rows:
        line = []
        for name in header:
            value = row.get(name)
            if name == "SIGNED" and value:
                line.append(Cell(dt.datetime.fromisoformat(value)))
            elif name == "MOA" and value:
                line.append(Cell("link", value))
            else:
                line.append(Cell(value))
        cells.append(line)
    return parse_roster(cells, today=dt.date(2025, 12, 31))


class Lists:
    """One source's agreement and pending records, fed a list a day."""

    def __init__(self) -> None:
        self.agreements: list[dict] = []
        self.pending: list[dict] = []
        self.day = 0

    def __call__(self, rows: list[dict], kind: str = "participating", row_keys: bool = False):
        self.day += 1
        snap = ListSnapshot("ice", f"2025-06-{self.day:02d}T09:00:00Z", {"kind": kind, "day": self.day})
        header = PARTICIPATING_HEADER if kind == "participating" else PENDING_HEADER
        parsed = roster(rows, header)
        keys = [row.key for row in parsed.rows] if row_keys else None
        if kind == "participating":
            mine, others, diff = self.agreements, self.pending, diff_agreements
        else:
            mine, others, diff = self.pending, self.agreements, diff_pending
        out = diff(mine, others, parsed, snap, POLICY, not mine, keys)
        mine.extend(out.new_records)
        return out

    def record(self, agency: str) -> dict:
        return next(r for r in self.agreements + self.pending if r["agency"] == agency)


def types(out) -> list[str]:
    return [event["type"] for event in out.events]


LIST = sample_agreements(6)
SEEN_FIELDS = ("last_seen", "listed_in", "listed_line", "listed_values")     # what marking seen sets
NAMES = [row["LAW ENFORCEMENT AGENCY"] for row in LIST]


def test_an_unchanged_row_is_only_marked_seen():
    lists = Lists()
    lists(LIST)
    before = {name: dict(lists.record(name)) for name in NAMES}
    out = lists(LIST[::-1])
    assert out.events == [] and not out.stats
    for name in NAMES:
        record, earlier = lists.record(name), before[name]
        assert record["last_seen"] == "2025-06-02T09:00:00Z"
        assert differ.last_listed(record)["day"] == 2
        assert differ.last_listed(record)["line"] == differ.listed_row(record)["line"] == 2 + 5 - NAMES.index(name)
        unchanged = {key: value for key, value in record.items() if key not in SEEN_FIELDS}
        assert unchanged == {key: value for key, value in earlier.items() if key not in SEEN_FIELDS}


def test_the_row_keys_given_are_the_ones_made_here():
    given, made = Lists(), Lists()
    changed = [dict(LIST[0], COUNTY="Other County"), *LIST[1:4], LIST[5],
               agreement("FLORIDA", "Newtown Police Department")]
    for lists, keys in ((given, True), (made, False)):
        lists(LIST, row_keys=keys)
        lists(changed, row_keys=keys)
    assert given.agreements == made.agreements


def test_a_changed_value_is_a_correction_not_a_quick_update():
    lists = Lists()
    lists(LIST)
    out = lists([dict(LIST[0], COUNTY="Other County"), *LIST[1:]])
    assert types(out) == ["agreement.corrected"]
    assert out.events[0]["changes"] == {"county": {"old": "County 0", "new": "Other County"}}
    assert lists.record(NAMES[0])["county"] == "Other County"


def test_corrections_come_in_list_order_whatever_the_records_order():
    lists = Lists()
    lists(LIST)
    lists.agreements.reverse()
    out = lists([dict(row, COUNTY=f"Moved {i}") for i, row in enumerate(LIST)])
    assert [event["agency"] for event in out.events] == NAMES


def test_a_name_flipping_back_pairs_with_its_record_by_the_earlier_spelling():
    lists = Lists()
    lists(LIST)
    respelled = dict(LIST[2], **{"LAW ENFORCEMENT AGENCY": "Town C002 Police Dept of Greens Fork"})
    out = lists([*LIST[:2], respelled, *LIST[3:]])
    assert types(out) == ["agreement.corrected"]     # paired by evidence: same date, MOA, county
    record = lists.record(respelled["LAW ENFORCEMENT AGENCY"])
    assert record["aliases"] == ["TOWN C002 POLICE DEPARTMENT"]
    out = lists(LIST)       # the old spelling again: an exact match by the alias, not new
    assert types(out) == ["agreement.corrected"]
    assert out.events[0]["matched_by"] == "exact"
    assert lists.record(NAMES[2]) is record and record["status"] == "listed"


def test_a_record_listed_under_both_its_spellings_pairs_with_the_first_row_only():
    lists = Lists()
    lists(LIST)
    record = lists.agreements[2]
    record["aliases"] = ["TOWN C002 POLICE DEPARTMENT OF OLD"]
    old_spelling = dict(LIST[2], **{"LAW ENFORCEMENT AGENCY": "Town C002 Police Department of Old",
                                    "COUNTY": "Elsewhere"})
    out = lists([old_spelling, *LIST])
    # The record takes the first of its rows (the old spelling, re-read as
    # corrected); the row under its current name is then a new agreement.
    assert types(out) == ["agreement.corrected", "agreement.signed"]
    assert out.events[0]["uid"] == record["uid"]
    assert out.events[1]["agency"] == NAMES[2]


def test_a_missing_record_back_is_counted_not_quickly_updated():
    lists = Lists()
    lists(LIST)
    lists(LIST[1:])
    assert lists.record(NAMES[0])["status"] == "missing"
    out = lists(LIST)
    assert out.events == []
    assert out.stats["returned_within_debounce"] == 1
    record = lists.record(NAMES[0])
    assert record["status"] == "listed" and record["flaps"] == 1 and record["missing_since"] is None


def test_a_merged_duplicate_listed_again_is_relisted():
    lists = Lists()
    duplicate = dict(LIST[1], **{"LAW ENFORCEMENT AGENCY": "City of Town B001 Police Department"})
    lists([*LIST, duplicate])
    lists(LIST)
    out = lists(LIST)
    assert out.stats["merged_duplicate_listings"] == 1 and out.events == []
    merged = lists.record(duplicate["LAW ENFORCEMENT AGENCY"])
    assert merged["status"] == "merged"
    out = lists([*LIST, duplicate])
    assert out.stats["merged_listing_back"] == 1 and out.events == []
    assert merged["status"] == "listed"


def test_a_live_record_claims_its_key_before_a_settled_one():
    lists = Lists()
    lists(LIST)
    live = lists.agreements[3]
    settled = dict(live, uid="settled-twin", status="merged", aliases=[])
    lists.agreements.insert(0, settled)        # first in record order, yet settled
    out = lists(LIST)
    assert out.events == [] and not out.stats
    assert live["last_seen"] == "2025-06-02T09:00:00Z"
    assert settled["last_seen"] == "2025-06-01T09:00:00Z" and settled["status"] == "merged"


def test_a_record_without_a_field_of_today_is_compared_field_by_field():
    lists = Lists()
    lists(LIST)
    old = lists.agreements[0]
    del old["addendum_url"]         # kept before the field existed; the list has no addendum
    out = lists(LIST)
    assert out.events == [] and not out.stats
    assert old["last_seen"] == "2025-06-02T09:00:00Z" and "addendum_url" not in old


def test_an_unchanged_application_is_marked_seen_and_a_returning_one_counted():
    lists = Lists()
    applications = [{"STATE": "TEXAS", "LAW ENFORCEMENT AGENCY": f"Town {n} Police Department",
                     "SUPPORT TYPE": "Task Force Model"} for n in ("Alpha", "Bravo", "Charlie")]
    lists(applications, "pending")
    lists(applications[1:], "pending")
    out = lists(applications, "pending")
    assert out.events == [] and out.stats["pending_returned_within_debounce"] == 1
    assert all(record["status"] == "listed" and record["last_seen"] == "2025-06-03T09:00:00Z"
               for record in lists.pending)


def test_the_name_lookup_finds_the_same_records_as_a_scan():
    records = [{"state": "TEXAS", "model": "Task Force Model", "status": status, "agency_key": name}
               for name, status in (("HARRIS COUNTY SHERIFFS OFFICE", "listed"), ("HARRIS COUNTY CONSTABLE PRECINCT 1", "listed"),
                                    ("HARIS COUNTY SHERIFFS OFFICE", "listed"), ("HARRIS COUNTY SHERIFFS OFFICE", "merged"),
                                    ("LAKE JACKSON POLICE DEPARTMENT", "listed"))]
    lookup = differ._NameLookup(records, ("listed",))
    probe = dict(records[0])
    assert lookup.named_like(probe, differ.identity.NEAR) == [records[0], records[2]]
    assert lookup.named_like(records[0], differ.identity.NEAR) == [records[2]]   # never itself
    assert lookup.named_like(dict(probe, model="Jail Enforcement Model"), differ.identity.NEAR) == []


def test_an_agreement_listed_twice_is_one_record_paired_with_its_own_date():
    lists = Lists()
    twice = [dict(LIST[1], SIGNED="2025-02-11"), dict(LIST[1], SIGNED="2025-07-07")]
    out = lists([LIST[0], *twice, *LIST[2:]])
    assert len(out.new_records) == len(LIST) and out.stats["duplicate_rows"] == 1
    record = lists.record(NAMES[1])
    assert record["signed"] == "2025-02-11" and differ.listed_row(record)["line"] == 3
    out = lists([LIST[0], *twice[::-1], *LIST[2:]])   # the record's date is now on the later row
    assert out.events == [] and out.stats == {"duplicate_rows": 1}
    assert differ.listed_row(record)["line"] == 4 and record["signed"] == "2025-02-11"
    out = lists([*LIST, twice[1], twice[1]])          # no row of the repeat is a new agreement
    assert out.events == [] and out.stats == {"duplicate_rows": 2} and len(lists.agreements) == len(LIST)
