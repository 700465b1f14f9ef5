"""`stats` and `export roster --as-of` over the replay of all 391 real lists
of 2025, cross-checked with plain openpyxl counts of the workbook that the
manifest alone says was live at each moment."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import SHARED
from tests.support.plain_counts import live_file, plain_counts

pytestmark = pytest.mark.slow

MANIFEST = SHARED / "ice-snapshots" / "manifest.csv"
MOMENTS = [
    "2025-03-10T12:00:00",      # before ICE's lists had a COUNTY column (17 March)
    "2025-09-22T12:00:00",      # the morning of the swap
    "2025-09-22T23:59:59",      # the swap (16:00) was quarantined: the same list as that morning
    "2025-09-23T12:00:00",
    "2025-12-31T23:59:59",
]


@pytest.fixture
def run(cli, replay_2025):
    def run_in(*args):
        code, out, err = cli(*args, data=replay_2025)
        assert code == 0, err
        return out
    return run_in


@pytest.mark.parametrize("moment", MOMENTS)
def test_stats_match_the_live_workbook(run, moment):
    figures = json.loads(run("stats", "--json", "--as-of", moment))
    participating = live_file(MANIFEST, "participating", moment)
    plain = plain_counts(participating)
    assert figures["list_file"] == participating.name
    assert figures["agreements"] == len(plain.rows)
    assert figures["by_state"] == plain.by_state()
    assert figures["by_model"] == plain.by_model()
    assert figures["signed_this_year"] == plain.signed_in(2025)
    assert figures["pending"] == len(plain_counts(live_file(MANIFEST, "pending", moment)).rows)
    assert (figures["counties_covered"] is None) == (not plain.has_county)
    events = [json.loads(line) for line in run("events", "--json", "--type", "terminated").splitlines()]
    assert figures["terminated_this_year"] == sum(1 for e in events if e["observed_at"] <= moment + "Z")


def test_the_swap_day_keeps_the_morning_list(run):
    morning = json.loads(run("stats", "--json", "--as-of", "2025-09-22T12:00"))
    evening = json.loads(run("stats", "--json", "--as-of", "2025-09-22"))
    assert evening["list_sha256"] == morning["list_sha256"]
    assert "09222025pm" not in evening["list_file"]
    assert evening["agreements"] > 900      # not the 42 rows of the pending list served that afternoon


@pytest.mark.parametrize("moment", ["2025-03-10T12:00:00", "2025-12-31T23:59:59"])
def test_roster_export_matches_the_live_workbook(run, moment):
    rows = list(csv.DictReader(io.StringIO(run("export", "roster", "--as-of", moment))))
    participating = live_file(MANIFEST, "participating", moment)
    plain = plain_counts(participating)
    assert len(rows) == len(plain.rows)
    assert {r["list_file"] for r in rows} == {participating.name}
    assert all(r["first_seen"] <= r["list_observed_at"] <= r["last_seen"] for r in rows)
    if plain.has_county:
        figures = json.loads(run("stats", "--json", "--as-of", moment))
        placed = {(r["state"], r["county"]) for r in rows if r["county_fips"] and r["agency_type"] != "State Agency"}
        unmatched = {(u["state"], u["county"]) for u in figures["unmatched_counties"]}
        assert placed | unmatched == plain.county_texts()
        assert len(unmatched) <= 10     # ICE's odd entries, each listed with its agencies
