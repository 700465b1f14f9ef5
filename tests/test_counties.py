"""County names as ICE wrote them on 2025's lists -> FIPS codes, within the state."""

from __future__ import annotations

import pytest

from watch287g.core.records import Row
from watch287g.counties import CORRECTIONS, county_index
from watch287g.stats import county_coverage

# (state, ICE's COUNTY cell, expected FIPS, how): every one seen on a 2025 list.
MISSPELT = [
    ("FL", "Flager County", "12035", "fuzzy"),
    ("FL", "Lake Conty", "12069", "suffix"),
    ("FL", "St. Luice County", "12111", "fuzzy"),
    ("IN", "Stueben County", "18151", "fuzzy"),
    ("MI", "Berrian County", "26021", "fuzzy"),
    ("PA", "Alleghany County", "42003", "fuzzy"),
    ("AR", "Bowie County", "05091", "table"),        # Texarkana PD, Arkansas: Miller County
    ("VA", "Hopewell County", "51670", "suffix"),    # the independent city of Hopewell
    ("VA", "Portsmouth County", "51740", "suffix"),
    ("TN", "Sparta-White County", "47185", "part"),
    ("LA", "Saint Landry County", "22097", "suffix"),
    ("LA", "German Coast County", "22089", "table"),
    ("AR", "Layafette County", "05073", "table"),
    ("NC", "Albermarle County", "37139", "table"),   # a misspelling of a table entry
    ("MD", "Allegancy", "24001", "fuzzy"),
    ("KS", "Lyon's County", "20111", "fuzzy"),
    ("TX", "Somervill", "48425", "fuzzy"),
    ("FL", "Miami-Dade County", "12086", "exact"),
    ("GA", "De Kalb County", "13089", "fuzzy"),
]


@pytest.mark.parametrize("state,text,fips,how", MISSPELT)
def test_misspelt_counties(state, text, fips, how):
    found = county_index().match(state, text)
    assert (found.county.fips, found.how) == (fips, how)
    assert found.county.state == state


def test_matching_stays_in_the_state():
    index = county_index()
    assert index.match("TX", "Bowie County").county.fips == "48037"   # the real Bowie County
    for state, text in (("MA", "Crow Wing County"), ("FL", "Kershaw County"), ("OK", "Wichita County"),
                        ("WV", "Washington County")):
        found = index.match(state, text)
        assert found.county is None and "no county of" in found.note


def test_a_county_and_a_city_of_one_name_stay_apart():
    index = county_index()
    assert index.match("VA", "Richmond County").county.fips == "51159"
    assert index.match("VA", "Richmond city").county.fips == "51760"
    assert index.match("VA", "Richmond Conty").county.fips == "51159"
    assert index.match("VA", "Richmond County").county.name == "Richmond County"
    assert index.match("VA", "Richmond city").county.name == "Richmond city"


@pytest.mark.parametrize("text", [None, "", "#N/A", "N/A", "#n?A", "  "])
def test_blank_counties_are_no_county(text):
    assert county_index().match("TX", text) is None


def test_unknown_state():
    found = county_index().match(None, "Polk County")
    assert found.county is None and "no counties known" in found.note


def test_every_table_entry_names_a_county_of_its_state():
    index = county_index()
    for (state, _name), (fips, why) in CORRECTIONS.items():
        assert index.counties[fips].state == state and why


def _row(state, county, agency_type="County", agency="X Sheriff's Office"):
    return Row(line=2, state=state, agency=agency, agency_key=agency.upper(), model="Task Force Model",
               agency_type=agency_type, county=county, signed=None, moa_url=None, addendum_url=None, raw={})


def test_coverage_places_every_row_once():
    rows = [_row("FL", "Polk County"), _row("FL", "POLK COUNTY", agency="Y PD"), _row("FL", "Flager County"),
            _row("FL", "Leon County", agency_type="State Agency"), _row("FL", "#N/A"), _row("FL", None),
            _row("MA", "Crow Wing County")]
    coverage = county_coverage(rows, county_index().match)
    assert set(coverage.covered) == {"12105", "12035"}          # Polk counted once, by FIPS
    assert coverage.covered["12105"].agreements == 2
    assert len(coverage.statewide) == 1 and len(coverage.no_county) == 2
    assert coverage.unmatched_records() == [{"state": "MA", "county": "Crow Wing County", "agreements": 1,
                                             "agencies": ["X Sheriff's Office"]}]
