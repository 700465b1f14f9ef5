"""readers/roster.py: a list's cells into rows, and rows remembered across lists."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from watch287g.core.records import Row, Cell
from watch287g.readers import roster
from watch287g.readers.roster import parse_roster

HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA"]
MOA = "https://www.ice.gov/doclib/287gMOA/r_lakecountyflso_2025-02-26.pdf"


def cells(*values, link: str | None = None) -> list[Cell]:
    row = [Cell(value) for value in values]
    if link:
        row[-1] = Cell(values[-1], link)
    return row


def sheet(*rows: list[Cell], header=HEADER) -> list[list[Cell]]:
    return [[Cell(name) for name in header], *rows]


LAKE = ("FLORIDA", "Lake County Sheriff's Office", "County", "Lake", "Task Force Model",
        dt.datetime(2025, 2, 26), "MOA")


@pytest.fixture(autouse=True)
def forget_rows():
    roster._RepeatedRows._kept.clear()
    yield
    roster._RepeatedRows._kept.clear()


def test_a_row_listed_again_parses_the_same_at_its_own_line():
    first = parse_roster(sheet(cells(*LAKE, link=MOA))).rows
    later = parse_roster(sheet(cells("TEXAS", "Webb County Sheriff's Office", "County", "Webb",
                                     "Jail Enforcement Model", dt.datetime(2025, 10, 17), "MOA"),
                               cells(*LAKE, link=MOA))).rows
    assert [row.line for row in first] == [2]
    assert [row.line for row in later] == [2, 3]
    again = later[1]
    assert dataclasses.replace(again, line=2) == first[0]
    assert (again.state, again.model, again.signed, again.moa_url) == ("FL", "Task Force Model", "2025-02-26", MOA)


@pytest.mark.parametrize("change", [
    lambda: cells(*LAKE, link=MOA.replace("2025-02-26", "2025-03-01")),     # only the link differs
    lambda: cells(*LAKE[:5], dt.datetime(2025, 2, 27), "MOA", ),            # only the date differs
    lambda: cells(*LAKE[:1], "Lake County Sheriffs Office", *LAKE[2:]),     # only the spelling differs
])
def test_a_row_that_differs_in_any_cell_is_parsed_again(change):
    parse_roster(sheet(cells(*LAKE, link=MOA)))
    row = parse_roster(sheet(change())).rows[0]
    fresh = roster._parse_row(2, change(), roster._columns_by_field(
        {i: roster.COLUMN_ALIASES[name] for i, name in enumerate(HEADER)}, dict(enumerate(HEADER))), None)
    assert row == fresh


@pytest.mark.parametrize("first, then", [(1, True), (True, 1), (1, 1.0), (0, False)])
def test_numbers_that_compare_equal_but_read_differently_are_not_mistaken_for_each_other(first, then):
    # Cell(1) == Cell(True): a row holding one must not get the other's parse.
    parse_roster(sheet(cells(*LAKE[:3], first, *LAKE[4:], link=MOA)))
    row = parse_roster(sheet(cells(*LAKE[:3], then, *LAKE[4:], link=MOA))).rows[0]
    assert row.county == str(then)
    assert row.raw["COUNTY"] == str(then)


def test_the_same_cells_under_other_columns_are_read_by_those_columns():
    parse_roster(sheet(cells(*LAKE, link=MOA)))
    swapped = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "COUNTY", "SIGNED", "MOA"]
    row = parse_roster(sheet(cells(*LAKE, link=MOA), header=swapped)).rows[0]
    assert row.county == "Task Force Model" and row.model is None   # read as the header says, not remembered


def test_the_day_of_reading_is_part_of_what_a_row_means():
    next_year = cells(*LAKE[:5], dt.datetime(2027, 1, 5), "MOA")
    assert parse_roster(sheet(next_year), today=dt.date(2026, 11, 28)).rows[0].signed == "2027-01-05"
    # Read in 2025, a 2027 signing date is an impossible year, not a date.
    late = parse_roster(sheet(next_year), today=dt.date(2025, 6, 1)).rows[0]
    assert late.signed is None and any("impossible year" in note for note in late.notes)


def test_blank_rows_are_remembered_as_blank():
    blank = cells("FLORIDA", "", "County", "Lake", "Task Force Model", None, None)
    assert parse_roster(sheet(blank)).rows == []
    assert parse_roster(sheet(blank, cells(*LAKE, link=MOA))).rows[0].line == 3


def test_a_list_longer_than_the_cache_is_parsed_row_by_row(monkeypatch):
    monkeypatch.setattr(roster, "REPEATED_ROWS_KEPT", 2)
    rows = [cells("FLORIDA", f"Agency {n} Police Department", "Municipality", "Lake", "Task Force Model",
                  dt.datetime(2025, 2, 26), "MOA") for n in range(3)]
    assert [row.line for row in parse_roster(sheet(*rows)).rows] == [2, 3, 4]
    assert roster._RepeatedRows._kept == {}


def test_the_remembered_rows_stay_bounded(monkeypatch):
    monkeypatch.setattr(roster, "REPEATED_ROWS_KEPT", 3)
    for n in range(4):
        parse_roster(sheet(cells("FLORIDA", f"Agency {n} Police Department", "Municipality", "Lake",
                                 "Task Force Model", dt.datetime(2025, 2, 26), "MOA")))
    assert sum(map(len, roster._RepeatedRows._kept.values())) <= 3 + 1


def test_a_remembered_row_keeps_every_field_but_the_line():
    row = parse_roster(sheet(cells(*LAKE[:5], dt.datetime(2099, 2, 26), "MOA", link=MOA))).rows[0]
    blank = cells("FLORIDA", "", "County", "Lake", "Task Force Model", None, None)
    moved = parse_roster(sheet(blank, cells(*LAKE[:5], dt.datetime(2099, 2, 26), "MOA", link=MOA))).rows[0]
    assert (row.line, moved.line) == (2, 3) and row.notes
    assert all(getattr(moved, f.name) == getattr(row, f.name) for f in dataclasses.fields(Row) if f.name != "line")


def test_a_row_that_ends_early_reads_its_missing_cells_as_blank_and_is_remembered_so():
    short = cells(*LAKE[:5])                                    # no SIGNED, no MOA cell at all
    padded = cells(*LAKE[:5], None, None)
    first = parse_roster(sheet(short)).rows[0]
    assert (first.model, first.signed, first.moa_url) == ("Task Force Model", None, None)
    assert parse_roster(sheet(padded, short)).rows[1] == dataclasses.replace(first, line=3)


def test_lists_parsed_in_two_threads_at_once_each_get_their_own_rows():
    from concurrent.futures import ThreadPoolExecutor

    def parse(n: int) -> list[str]:
        header = HEADER if n % 2 else ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]
        rows = [cells("FLORIDA", f"Agency {n}-{k} Police Department", "Municipality", "Lake", "Task Force Model",
                      dt.datetime(2025, 2, 26), "MOA")[:len(header)] for k in range(50)]
        return [row.agency for row in parse_roster(sheet(*rows, header=header)).rows]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(parse, range(40)))
    assert results == [[f"Agency {n}-{k} Police Department" for k in range(50)] for n in range(40)]
