"""The snapshot gate on faulty inputs: each is quarantined with its reason,
produces one operator event and no agreement event, and the next good list is
compared with the last good one."""

from __future__ import annotations

import io
import zipfile

import pytest
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.readers.xlsx import Limits
from watch287g.state import gate
from watch287g.state.ingest import ingest
from watch287g.state.policy import Policy
from watch287g.state.store import Store

from tests.support.workbooks import (
    PENDING_HEADER,
    agreement,
    sample_agreements,
    workbook_bytes,
)

GOOD = sample_agreements(120)
HTML_BLOCK_PAGE = b"<!DOCTYPE html><html><head><title>Access Denied</title></head><body>Access Denied</body></html>"


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "data")
    feed_to(store, workbook_bytes(GOOD), "2025-06-01T09:00:00Z")
    return store


def feed_to(store, content, observed_at, kind="participating"):
    snapshot = snapshot_from_workbook("ice", kind, observed_at, "f.xlsx", content)
    with store.write() as db:
        return ingest(db, snapshot, Policy())


def zip_bomb() -> bytes:
    """A workbook-looking zip whose sheet inflates to 1 MB more than the
    reader lets any member inflate to (compressed ~100 KB). Deflating more
    proves nothing more, and 1 GB took seconds of every collection."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(Limits().max_member_bytes // len(chunk) + 1):
                member.write(chunk)
    return buffer.getvalue()


FAULTS = {
    "html page saved as xlsx": (HTML_BLOCK_PAGE, "unreadable file"),
    "truncated workbook": (workbook_bytes(GOOD)[:4000], "unreadable file"),
    "empty file": (b"", "unreadable file"),
    "zip bomb": (zip_bomb(), "unreadable file"),
    "pending list behind the participating link": (
        workbook_bytes([agreement("TEXAS", f"Agency {i}") for i in range(80)], PENDING_HEADER), "lists swapped"),
    "renamed header": (workbook_bytes(GOOD, ["STATE", "AGENCY NAME", "TYPE", "COUNTY", "SUPPORT TYPE",
                                             "SIGNED", "MOA"]), "no header row"),
    "model column relabelled": (workbook_bytes(GOOD, ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY",
                                                      "PROGRAM", "SIGNED", "MOA"]), "required column missing"),
    "empty sheet": (workbook_bytes([]), "only 0 agreements"),
    "near-empty list": (workbook_bytes(GOOD[:5]), "only 5 agreements"),
    "partial list": (workbook_bytes(GOOD[:100]), "down from 120"),
    "mostly different list": (workbook_bytes(GOOD[:20] + sample_agreements(100, prefix="City")),
                              "of the last good list's agreements are in it"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_fault_is_quarantined_with_one_operator_event(store, name):
    content, reason = FAULTS[name]
    result = feed_to(store, content, "2025-06-02T09:00:00Z")
    assert result.verdict == "quarantined"
    assert reason in result.reason
    assert [e["type"] for e in result.events] == ["snapshot.quarantined"]
    assert reason in result.events[0]["message"]
    assert store.read().snapshots.get(result.snapshot_id)["verdict"] == "quarantined"
    # The same bad file served again: recorded, but the operator is not told twice.
    again = feed_to(store, content, "2025-06-02T10:00:00Z")
    assert (again.verdict, again.repeated) == ("quarantined", True)
    assert again.events == []


def test_next_good_list_is_compared_with_last_good(store):
    feed_to(store, HTML_BLOCK_PAGE, "2025-06-02T09:00:00Z")
    extra = agreement("GEORGIA", "Cobb County Sheriff's Office", signed="2025-06-01")
    result = feed_to(store, workbook_bytes(GOOD + [extra]), "2025-06-03T09:00:00Z")
    assert result.verdict == "accepted"
    assert [e["type"] for e in result.events] == ["agreement.signed"]


def test_swapped_pending_file_on_pending_link_is_quarantined(store):
    feed_to(store, workbook_bytes([agreement("TEXAS", "Hays County SO")], PENDING_HEADER),
            "2025-06-01T09:00:00Z", kind="pending")
    result = feed_to(store, workbook_bytes(GOOD), "2025-06-02T09:00:00Z", kind="pending")
    assert result.verdict == "quarantined"
    assert "shaped like the participating list" in result.reason


def test_real_swap_file_is_quarantined(shared_snapshots, tmp_path):
    """2025-09-22 pm: ICE served the pending list behind the participating link."""
    store = Store(tmp_path / "data")
    folder = shared_snapshots / "participating"
    good = folder / "20250916T1600_participatingAgencies09162025pm.xlsx"
    swapped = folder / "20250922T1600_participatingAgencies09222025pm.xlsx"
    assert feed_to(store, good.read_bytes(), "2025-09-16T16:00:00Z").verdict == "baseline"
    result = feed_to(store, swapped.read_bytes(), "2025-09-22T16:00:00Z")
    assert result.verdict == "quarantined"
    assert "lists swapped" in result.reason


def test_the_gate_counts_the_row_keys_it_is_given():
    # ingest makes each row's key once and hands the set to the gate.
    snapshot = snapshot_from_workbook("ice", "participating", "2025-06-01T09:00:00Z", "f.xlsx", workbook_bytes(GOOD))
    policy = Policy().gate_for("participating")
    keys = gate.row_keys(snapshot.roster)
    assert len(keys) == len(GOOD)
    assert gate.check(snapshot, None, policy) is None
    assert gate.check(snapshot, None, policy, keys=keys) is None
    reason = gate.check(snapshot, None, policy, keys=frozenset(sorted(keys)[:3]))
    assert reason.startswith("only 3 agreements listed")
