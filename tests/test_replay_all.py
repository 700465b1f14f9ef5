"""Replay all 391 real ICE lists of 2025 and hold the event log to what a
reader must be able to trust."""

from __future__ import annotations

import csv

import pytest
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.state.store import Store

pytestmark = pytest.mark.slow

# Re-spellings seen in 2025's lists: (state, old spelling, new spelling).
KNOWN_RESPELLINGS = [
    ("MN", "FREEDOM COUNTY SHERIFF'S OFFICE", "FREEBORN COUNTY SHERIFF'S OFFICE"),
    ("FL", "Lake Clark Shores Police Department", "Lake Clarke Shores Police Department"),
    ("MI", "BERRIAN COUNTY SHERIFF'S OFFIC", "BERRIAN COUNTY SHERIFF'S OFFICE"),
    ("WY", "WYOMING HIGHWAY STATE PATROL", "WYOMING STATE HIGHWAY PATROL"),
    ("TX", "Lampass County Sheriff's Office", "Lampasas County Sheriff's Office"),
    ("NC", "Brookfield Police Department", "Brookford Police Department"),
]


@pytest.fixture(scope="module")
def replay(replay_2025):
    db = Store(replay_2025).read()
    return db, [dict(event) for event in db.events.in_order()]


@pytest.fixture(scope="module")
def shared_snapshots_module():
    from tests.conftest import SHARED

    folder = SHARED / "ice-snapshots"
    if not (folder / "manifest.csv").is_file():
        pytest.skip("../shared/ice-snapshots is not beside the checkout")
    return folder


def test_the_swap_is_quarantined_without_agreement_events(replay):
    db, events = replay
    quarantined = [s for s in db.snapshots.all() if s["verdict"] == "quarantined"]
    assert [(s["observed_at"], s["kind"]) for s in quarantined] == [("2025-09-22T16:00:00Z", "participating")]
    assert "lists swapped" in quarantined[0]["reason"]
    at_swap = [e for e in events if e["observed_at"] == "2025-09-22T16:00:00Z"]
    assert [e["type"] for e in at_swap] == ["snapshot.quarantined"]
    # The next good list was compared with the last good one, not the swap:
    # no burst of hundreds of terminations or signings on 24 September.
    next_day = [e for e in events if e["observed_at"].startswith("2025-09-24T09")]
    assert len(next_day) < 60


def test_no_termination_for_an_agreement_listed_again_later(replay, shared_snapshots_module):
    db, events = replay
    records = {r["uid"]: r for r in db.agreements.all()}
    listings: dict[tuple, list[tuple[str, str | None]]] = {}
    with (shared_snapshots_module / "manifest.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["kind"] != "participating":
                continue
            content = (shared_snapshots_module / row["file"]).read_bytes()
            snapshot = snapshot_from_workbook("ice", "participating", row["observed_at"], row["file"], content)
            if snapshot.roster is None or snapshot.roster.shape != "participating":
                continue
            for r in snapshot.roster.rows:
                listings.setdefault((r.state, r.agency_key, r.model), []).append((row["observed_at"], r.signed))
    terminated = [e for e in events if e["type"] == "agreement.terminated"]
    assert 20 <= len(terminated) <= 80
    for event in terminated:
        record = records[event["uid"]]
        keys = [(record["state"], key, record["model"]) for key in [record["agency_key"], *record["aliases"]]]
        later = [(t, signed) for key in keys for t, signed in listings.get(key, [])
                 if t > event["observed_at"].rstrip("Z") and signed == event["signed"]]
        assert not later, f"{event['agency']} ({event['state']}) terminated but listed again: {later[:2]}"


@pytest.mark.parametrize("state_code,old,new", KNOWN_RESPELLINGS)
def test_respellings_are_corrections(replay, state_code, old, new):
    _, events = replay
    def same(change):  # ICE writes a name in capitals one month and Title Case the next
        return change and (change["old"].upper(), change["new"].upper()) == (old.upper(), new.upper())

    corrections = [e for e in events if e["type"] == "agreement.corrected" and e["state"] == state_code
                   and same(e["changes"].get("agency"))]
    assert corrections, f"no correction {old!r} -> {new!r}"
    uid = corrections[0]["uid"]
    assert not [e for e in events if e.get("uid") == uid and e["type"] == "agreement.terminated"]


def test_event_counts_are_plausible(replay):
    db, events = replay
    by_type: dict[str, int] = {}
    for event in events:
        by_type[event["type"]] = by_type.get(event["type"], 0) + 1
    listed = sum(1 for r in db.agreements.all() if r["status"] == "listed")
    # ICE's last list of 2025 had 1,274 rows, a few of them duplicates.
    assert 1240 <= listed <= 1274
    assert by_type["agreement.signed"] > 1000
    assert by_type["snapshot.quarantined"] == 1
    assert by_type.get("agreement.reinstated", 0) <= 5
    assert all(e["source"]["sha256"] and e["source"]["file_name"] for e in events if "source" in e)
