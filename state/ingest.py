"""One snapshot through gate -> diff -> store, inside a write session.

Live checks and ``watch287g replay`` both call ``ingest``; the caller owns the
session (``Store.write``), so whatever else it records in the same session —
the check, the outbox entries for these events — is written in the same
atomic replace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watch287g.core import events as ev
from watch287g.core.records import Snapshot
from watch287g.state import gate
from watch287g.state.differ import ListSnapshot, Outcome, diff_agreements, diff_pending
from watch287g.state.policy import Policy
from watch287g.state.store import StateDB

BASELINE, ACCEPTED, QUARANTINED = "baseline", "accepted", "quarantined"
UNCHANGED, DUPLICATE = "unchanged", "duplicate"
_NOTES_KEPT = 50  # a snapshot's parse notes kept in its record (the count is kept whole)


@dataclass
class IngestResult:
    verdict: str
    reason: str | None = None
    events: list[dict] = field(default_factory=list)
    snapshot_id: int | None = None
    stats: dict = field(default_factory=dict)


def _meta_key(what: str, source: str, kind: str) -> str:
    return f"{what}:{source}:{kind}"


def _other_kind(kind: str) -> str:
    return "pending" if kind == "participating" else "participating"


def ingest(db: StateDB, snapshot: Snapshot, policy: Policy) -> IngestResult:
    latest = db.get_meta(_meta_key("latest", snapshot.source, snapshot.kind))
    if latest and latest["sha256"] == snapshot.sha256:
        return IngestResult(UNCHANGED, f"same content as the list seen at {latest['observed_at']}")
    if _already_recorded(db, snapshot):
        return IngestResult(DUPLICATE, "this file at this time is already recorded")
    if snapshot.content is not None:
        db.archive(snapshot.sha256, snapshot.content)

    last_good_meta = db.get_meta(_meta_key("last_good", snapshot.source, snapshot.kind))
    last_good = None
    if last_good_meta:
        last_good = gate.LastGood(last_good_meta["sha256"], last_good_meta["rows"],
                                  frozenset(last_good_meta["keys"]))
    other = db.get_meta(_meta_key("latest", snapshot.source, _other_kind(snapshot.kind)))
    reason = gate.check(snapshot, last_good, policy.gate_for(snapshot.kind),
                        other_kind_sha=other["sha256"] if other else None)
    db.set_meta(_meta_key("latest", snapshot.source, snapshot.kind),
                {"sha256": snapshot.sha256, "observed_at": snapshot.observed_at})
    if reason:
        return _quarantine(db, snapshot, reason)

    baseline = last_good is None
    outcome = _diff(db, snapshot, policy, baseline)
    stored = _store_events(db, outcome.events)
    keys = gate.row_keys(snapshot.roster)
    snapshot_id = _record_snapshot(db, snapshot, BASELINE if baseline else ACCEPTED, None,
                                   len(keys), len(stored), dict(outcome.stats))
    db.set_meta(_meta_key("last_good", snapshot.source, snapshot.kind), {
        "snapshot_id": snapshot_id, "sha256": snapshot.sha256, "observed_at": snapshot.observed_at,
        "rows": len(keys), "keys": sorted(keys), "file_name": snapshot.file_name,
    })
    return IngestResult(BASELINE if baseline else ACCEPTED, None, stored, snapshot_id, dict(outcome.stats))


def _already_recorded(db: StateDB, snapshot: Snapshot) -> bool:
    for doc in db.raw_table("snapshots").values():
        if doc["sha256"] == snapshot.sha256 and doc["observed_at"] == snapshot.observed_at \
                and doc["kind"] == snapshot.kind and doc["source"] == snapshot.source:
            return True
    return False


def _quarantine(db: StateDB, snapshot: Snapshot, reason: str) -> IngestResult:
    # The operator is told once per distinct bad file, however often it is served.
    told_before = any(doc["sha256"] == snapshot.sha256 and doc["verdict"] == QUARANTINED
                      and doc["source"] == snapshot.source for doc in db.raw_table("snapshots").values())
    rows = len(snapshot.roster.rows) if snapshot.roster else 0
    snapshot_id = _record_snapshot(db, snapshot, QUARANTINED, reason, rows, 0, {})
    stored = []
    if not told_before:
        stored = _store_events(db, [ev.operator_event(
            ev.SNAPSHOT_QUARANTINED, snapshot.observed_at,
            f"{snapshot.source} {snapshot.kind} list quarantined: {reason}",
            source={**snapshot.source_record(), "source": snapshot.source}, reason=reason,
            snapshot_id=snapshot_id)])
    return IngestResult(QUARANTINED, reason, stored, snapshot_id)


def _diff(db: StateDB, snapshot: Snapshot, policy: Policy, baseline: bool) -> Outcome:
    agreements_table = db.raw_table("agreements")
    pending_table = db.raw_table("pending")
    agreements = [r for r in agreements_table.values() if r["source"] == snapshot.source]
    pending = [r for r in pending_table.values() if r["source"] == snapshot.source]
    snap = ListSnapshot(source=snapshot.source, observed_at=snapshot.observed_at,
                        evidence=snapshot.source_record())
    if snapshot.kind == "participating":
        outcome = diff_agreements(agreements, pending, snapshot.roster, snap, policy, baseline)
        db.append("agreements", outcome.new_records)
    else:
        outcome = diff_pending(pending, agreements, snapshot.roster, snap, policy, baseline)
        db.append("pending", outcome.new_records)
    db.mark_dirty()  # records were updated in place
    return outcome


def _store_events(db: StateDB, events: list[dict]) -> list[dict]:
    """Insert events; each gets its doc id as its public ``id``."""
    db.append("events", events, id_field="id")
    return events


def _record_snapshot(db: StateDB, snapshot: Snapshot, verdict: str, reason: str | None,
                     rows: int, event_count: int, stats: dict) -> int:
    roster = snapshot.roster
    notes = roster.notes if roster else []
    return db.table("snapshots").insert({
        "source": snapshot.source,
        "kind": snapshot.kind,
        "observed_at": snapshot.observed_at,
        "file_name": snapshot.file_name,
        "sha256": snapshot.sha256,
        "size": snapshot.size,
        "rows": rows,
        "verdict": verdict,
        "reason": reason,
        "events": event_count,
        "columns": roster.columns if roster else [],
        "unknown_columns": roster.unknown_columns if roster else [],
        "duplicate_rows": roster.duplicates if roster else 0,
        "notes": notes[:_NOTES_KEPT],
        "notes_total": len(notes),
        "stats": stats,
        "provenance": snapshot.provenance,
    })
