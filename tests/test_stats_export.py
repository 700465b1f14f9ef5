"""`watch287g stats` and `export` on replayed real lists, cross-checked with
counts taken by plain openpyxl from the workbook live at each moment."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from tests.support.plain_counts import moa_links, plain_counts
from tests.support.replays import JULY_LIST, SWAP, replay_fixture_lists
from watch287g.export import EVENT_COLUMNS, ROSTER_COLUMNS

FIRST_PENDING = "20250221T2149_pendingAgencies-20250221214937.xlsx"
MARCH_1 = "20250301T1807_participatingAgencies-20250301180751.xlsx"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return replay_fixture_lists(tmp_path_factory.mktemp("stats"))


@pytest.fixture
def run(cli, data_dir):
    def run_in(*args):
        return cli(*args, data=data_dir)
    return run_in


def stats_json(run, *args) -> dict:
    code, out, err = run("stats", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def assert_matches_workbook(figures: dict, workbook, year: int = 2025) -> None:
    plain = plain_counts(workbook)
    assert figures["agreements"] == len(plain.rows)
    assert figures["by_state"] == plain.by_state()
    assert figures["by_model"] == plain.by_model()
    assert figures["signed_this_year"] == plain.signed_in(year)
    assert figures["list_has_county_column"] == plain.has_county


def test_before_the_county_column(run):
    figures = stats_json(run, "--as-of", "2025-03-01T20:00")
    assert figures["list_file"] == MARCH_1
    assert_matches_workbook(figures, JULY_LIST.parents[1] / "replay" / "participating" / MARCH_1)
    assert figures["counties_covered"] is None and figures["counties"] == []
    assert figures["pending"] == len(plain_counts(JULY_LIST.parents[1] / "replay" / "pending" / FIRST_PENDING).rows)
    assert figures["pending_file"] == FIRST_PENDING


def test_the_day_of_the_swap_uses_the_last_good_list(run):
    figures = stats_json(run, "--as-of", "2025-09-22")
    # The list served that afternoon was the pending list (quarantined): the
    # figures are those of the last good participating list.
    assert figures["as_of"] == "2025-09-22T23:59:59Z"
    assert figures["list_file"] == JULY_LIST.name != SWAP.name
    assert_matches_workbook(figures, JULY_LIST)
    assert figures["pending_file"] == "20250313T1720_pendingAgencies-20250313172004.xlsx"


def test_counties_every_named_county_is_covered_or_listed(run):
    figures = stats_json(run, "--as-of", "2025-09-22")
    code, out, _ = run("export", "roster", "--as-of", "2025-09-22")
    rows = list(csv.DictReader(io.StringIO(out)))
    placed = {(r["state"], r["county"]) for r in rows if r["county_fips"] and r["agency_type"] != "State Agency"}
    unmatched = {(u["state"], u["county"]) for u in figures["unmatched_counties"]}
    assert placed | unmatched == plain_counts(JULY_LIST).county_texts()
    covered = {r["county_fips"] for r in rows if r["county_fips"] and r["agency_type"] != "State Agency"}
    assert figures["counties_covered"] == len(covered) == len(figures["counties"])
    assert sum(c["agreements"] for c in figures["counties"]) + figures["statewide_agreements"] \
        + figures["agreements_without_county"] + sum(u["agreements"] for u in figures["unmatched_counties"]) \
        == figures["agreements"]
    by_name = {(c["state"], c["name"]): c["fips"] for c in figures["counties"]}
    assert by_name[("FL", "Flagler County")] == "12035"  # ICE wrote "Flager County"
    assert by_name[("FL", "St. Lucie County")] == "12111"


def test_one_state(run):
    national = stats_json(run, "--as-of", "2025-09-22")
    florida = stats_json(run, "--as-of", "2025-09-22", "--state", "Florida")
    assert florida["state"] == "FL" and florida["by_state"] == {"FL": national["by_state"]["FL"]}
    assert florida["agreements"] == national["by_state"]["FL"]
    assert all(c["state"] == "FL" for c in florida["counties"]) and florida["counties_covered"] > 50


def test_the_sentence_a_reporter_pastes(run):
    code, out, _ = run("stats", "--as-of", "2025-09-22")
    assert code == 0
    text = " ".join(out.split())
    assert text.startswith("As of September 22, 2025, ICE listed 805 287(g) agreements with ")
    assert "Florida had the most (306), followed by Texas" in text
    assert f"Source: ICE's list {JULY_LIST.name}" in text


def test_export_roster_as_of(run):
    code, out, err = run("export", "roster", "--as-of", "2025-09-22")
    assert code == 0, err
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames) == ROSTER_COLUMNS
    rows = list(reader)
    assert len(rows) == len(plain_counts(JULY_LIST).rows)
    assert {r["list_file"] for r in rows} == {JULY_LIST.name}
    for row in rows:
        assert row["first_seen"] <= row["list_observed_at"] <= row["last_seen"], row
        assert row["uid"] and row["status_now"] == "listed"
        assert not row["moa_url"] or row["moa_url"].startswith(("https://", "http://"))
    assert sum(1 for r in rows if r["moa_url"]) == moa_links(JULY_LIST)
    # An agreement on ICE's first list keeps its first-seen date.
    first_seen = {r["first_seen"] for r in rows}
    assert "2025-02-21T21:49:37Z" in first_seen
    code, out, _ = run("export", "roster", "--as-of", "2025-09-22", "--format", "json")
    assert [list(r) for r in json.loads(out)][0] == list(ROSTER_COLUMNS)
    assert len(json.loads(out)) == len(rows)


def test_export_pending_roster(run):
    code, out, _ = run("export", "roster", "--as-of", "2025-03-01", "--kind", "pending")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(plain_counts(JULY_LIST.parents[1] / "replay" / "pending" / FIRST_PENDING).rows)
    assert {r["list_kind"] for r in rows} == {"pending"}


def test_export_events(run):
    code, out, _ = run("export", "events")
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames) == EVENT_COLUMNS
    rows = list(reader)
    _, log, _ = run("events", "--format", "jsonl")
    public = [json.loads(line) for line in log.splitlines() if not json.loads(line)["type"].startswith("snapshot.")]
    assert [int(r["id"]) for r in rows] == [e["id"] for e in public]
    assert all(len(r["source_sha256"]) == 64 for r in rows)
    _, out, _ = run("export", "events", "--operator", "--format", "json")
    assert "snapshot.quarantined" in {e["type"] for e in json.loads(out)}
    _, out, _ = run("export", "events", "--since", "2025-07-01", "--format", "json")
    assert {e["observed_at"][:10] for e in json.loads(out)} == {"2025-07-11"}


BAD = [
    (("stats", "--as-of", "last tuesday"), "is not a date"),
    (("stats", "--as-of", "2025-02-01"), "no participating list was observed at or before 2025-02-01"),
    (("stats", "--state", "Atlantis"), "unknown state"),
    (("export", "roster", "--as-of", "2025-13-01"), "is not a date"),
    (("export", "roster", "--as-of", "2025-02-01", "--kind", "pending"), "no pending list"),
    (("export", "events", "--as-of", "2025-03-01"), "--as-of is for `export roster`"),
    (("export", "roster", "--since", "2025-03-01"), "are for `export events`"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_is_one_line(run, data_dir, args, message):
    before = (data_dir / "state.json").read_bytes()
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (data_dir / "state.json").read_bytes() == before


def test_no_state_yet(cli):
    code, _, err = cli("stats")
    assert code == 2 and "no state in" in err


def test_a_missing_archived_workbook_is_named(cli, data_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    figures = json.loads(cli("stats", "--json", "--as-of", "2025-09-22", data=copy)[1])
    archived = next((copy / "archive").rglob(f"{figures['list_sha256']}.xlsx"))
    archived.unlink()
    code, out, err = cli("stats", "--as-of", "2025-09-22", data=copy)
    assert code == 2 and out == ""
    assert "the archived workbook of 20250711T0900_participatingAgencies07112025am.xlsx" in err
    assert len(err.strip().splitlines()) == 1


def test_terminations_count_this_sources_agreements_only(cli, data_dir, tmp_path):
    from watch287g.core import events as ev
    from watch287g.state.store import Store

    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    with Store(copy).write() as db:
        ice = next(dict(r) for r in db.agreements.of_source("ice") if r["state"] == "FL")
        other = {**ice, "uid": "fl-a-state-roster-agreement", "source": "fl-roster"}
        db.events.add([ev.record_event(ev.TERMINATED, record, "2025-09-01T09:00:00Z", {"kind": "participating"})
                       for record in (ice, other)])
    figures = json.loads(cli("stats", "--json", "--as-of", "2025-09-22", "--state", "FL", data=copy)[1])
    assert figures["terminated_this_year"] == 1
    before = json.loads(cli("stats", "--json", "--as-of", "2025-08-31", "--state", "FL", data=copy)[1])
    assert before["terminated_this_year"] == 0
