"""`watch287g replay / events / status` on real workbooks, and bad input."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from watch287g.state.store import Store

from tests.conftest import FIXTURES

MANIFEST = FIXTURES / "replay" / "manifest.csv"
REQUIRED_FIELDS = {"id", "type", "observed_at", "state", "agency", "model", "signed", "county", "agency_type",
                   "moa_url", "source"}


@pytest.fixture
def replayed(cli):
    code, out, err = cli("replay", str(MANIFEST))
    assert code == 0, err
    return cli, out, err


def test_replay_reports_verdicts_and_events(replayed):
    _cli, out, err = replayed
    assert "replayed 7 snapshots" in out
    assert "2 baseline" in out and "5 accepted" in out
    assert "agreement.signed" in out
    assert "replay 7/7 (100%)" in err  # progress


def test_events_jsonl_has_the_documented_fields(replayed):
    cli, _, _ = replayed
    code, out, _ = cli("events", "--format", "jsonl")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 184
    for event in events:
        assert REQUIRED_FIELDS <= set(event)
        assert event["model"] in ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
        assert set(event["source"]) >= {"kind", "file_name", "sha256"}
    corrected = [e for e in events if e["type"] == "agreement.corrected"]
    assert {"old": "NY", "new": "FL"} in [e["changes"].get("state") for e in corrected]
    signed = [e for e in events if e["type"] == "agreement.signed"]
    assert any(e["from_pending"] for e in signed)


def test_events_filters(replayed):
    cli, _, _ = replayed
    _, out, _ = cli("events", "--json", "--type", "corrected", "--state", "Florida")
    events = [json.loads(line) for line in out.splitlines()]
    assert events and all(e["type"] == "agreement.corrected" and e["state"] == "FL" for e in events)
    _, out, _ = cli("events", "--json", "--since", "2025-03-07")
    since = [json.loads(line)["observed_at"] for line in out.splitlines()]
    _, out, _ = cli("events", "--json")
    every = [json.loads(line)["observed_at"] for line in out.splitlines()]
    assert since and all(when >= "2025-03-07" for when in since)
    assert sorted(since) == sorted(when for when in every if when >= "2025-03-07") and len(since) < len(every)
    _, out, _ = cli("events", "--json", "--type", "pending.added", "--limit", "2")
    assert len(out.splitlines()) == 2


def test_events_csv_and_table(replayed):
    cli, _, _ = replayed
    _, out, _ = cli("events", "--format", "csv", "--type", "signed")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and rows[0]["type"] == "agreement.signed" and len(rows[0]["source_sha256"]) == 64
    _, out, _ = cli("events", "--type", "corrected")
    assert "Lake Placid Police Department — state: NY -> FL" in out


def test_status_shows_last_good_lists_and_counts(replayed):
    cli, _, _ = replayed
    code, out, _ = cli("status")
    assert code == 0
    assert "ice participating list: 5 snapshots, 0 quarantined" in out
    assert "participatingAgencies03072025am.xlsx" in out
    code, out, _ = cli("status", "--json")
    status = json.loads(out)
    assert status["agreements"]["listed"] == 318
    assert status["agreements"]["by_state"]["FL"]["total"] > 100


def test_replaying_again_skips_what_is_recorded(replayed):
    cli, _, _ = replayed
    before = [dict(event) for event in Store(cli.data_dir).read().events.all()]
    code, out, _ = cli("--json", "replay", str(MANIFEST))
    assert code == 0
    summary = json.loads(out)
    # The newest list of each kind is the last one seen: unchanged; the five before it are already recorded.
    assert summary["verdicts"] == {"unchanged": 2, "duplicate": 5}
    assert summary["events"] == {}
    assert [dict(event) for event in Store(cli.data_dir).read().events.all()] == before


BAD_MANIFESTS = {
    "missing column": ("observed_at,file\n2025-01-01,x.xlsx\n", "missing column(s) kind"),
    "bad kind": ("observed_at,kind,file\n2025-01-01,participatng,x.xlsx\n", "kind must be participating or pending"),
    "bad date": ("observed_at,kind,file\nyesterday,pending,x.xlsx\n", "is not an ISO 8601 date-time"),
    "missing file": ("observed_at,kind,file\n2025-01-01,pending,nope.xlsx\n", "file not found"),
    "empty": ("observed_at,kind,file\n", "lists no files"),
    "binary": ("\x00\x01PK\x03\x04", "manifest"),
}


@pytest.mark.parametrize("name", BAD_MANIFESTS)
def test_bad_manifest_is_one_line_and_leaves_state_intact(replayed, tmp_path, name):
    cli, _, _ = replayed
    text, message = BAD_MANIFESTS[name]
    manifest = tmp_path / "bad.csv"
    manifest.write_text(text)
    (tmp_path / "x.xlsx").write_bytes(b"")  # so each case fails on what it names
    before = (cli.data_dir / "state.json").read_bytes()
    code, out, err = cli("replay", str(manifest))
    assert code == 2
    assert err.startswith("watch287g: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert (cli.data_dir / "state.json").read_bytes() == before


def test_garbage_workbooks_in_a_manifest_are_quarantined_not_crashes(cli, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(FIXTURES / "replay" / "participating" / "20250221T2149_participatingAgencies-20250221214937.xlsx",
                folder / "good.xlsx")
    (folder / "blocked.xlsx").write_bytes(b"<html><body>Access Denied</body></html>")
    (folder / "cut.xlsx").write_bytes((folder / "good.xlsx").read_bytes()[:9000])
    (folder / "manifest.csv").write_text("observed_at,kind,file\n2025-02-21T21:00:00,participating,good.xlsx\n"
                                         "2025-02-22T09:00:00,participating,blocked.xlsx\n"
                                         "2025-02-23T09:00:00,participating,cut.xlsx\n")
    code, out, err = cli("replay", str(folder / "manifest.csv"))
    assert code == 0, err
    assert "2 quarantined" in out and "looks like an HTML page" in out
    _, out, _ = cli("events", "--json")
    assert [json.loads(line)["type"] for line in out.splitlines()] == ["snapshot.quarantined"] * 2


def test_bad_options_are_one_line_errors(replayed):
    cli, _, _ = replayed
    for args, message in ((("events", "--type", "exploded"), "unknown event type"),
                          (("events", "--state", "Atlantis"), "unknown state"),
                          (("events", "--since", "last tuesday"), "is not a date")):
        code, _, err = cli(*args)
        assert code == 2 and message in err and "Traceback" not in err


def test_events_on_an_empty_data_dir(cli):
    code, out, err = cli("events")
    assert code == 0 and out == "" and "no state" in err


def test_events_csv_with_health_events(cli):
    from watch287g.core import events as ev
    from watch287g.state.store import Store

    with Store(cli.data_dir).write() as db:
        db.events.add([ev.operator_event(ev.SOURCE_FAILING, "2025-06-01T09:00:00Z",
                                         "ice: 3 checks in a row failed", source="ice")])
    for fmt in ("csv", "table", "jsonl"):
        code, out, err = cli("events", "--format", fmt)
        assert code == 0, err
        assert "3 checks in a row failed" in out
