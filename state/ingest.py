"""One snapshot through gate -> diff -> store, inside a write session.

The application step (watch287g/commit.py), used by live checks and
``watch287g replay`` alike, calls ``ingest`` and records the events it
returns through the journal in the same session, so the snapshot, the
records, the events and their deliveries are one atomic write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watch287g.core import events as ev
from watch287g.core.records import Snapshot
from watch287g.state import gate
from watch287g.state.differ import ListSnapshot, Outcome, diff_agreements, diff_pending
from watch287g.state.policy import Policy
from watch287g.state.store import StateDB

# The archive keeps each raw file under the suffix of its format.
ARCHIVE_SUFFIX = {"xlsx": ".xlsx", "html-table": ".json"}

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
    repeated: bool = False      # the same content as the list seen last (unchanged, or still quarantined)


def _meta_key(what: str, source: str, kind: str) -> str:
    return f"{what}:{source}:{kind}"


def _other_kind(kind: str) -> str:
    return "pending" if kind == "participating" else "participating"


def last_seen(db: StateDB, source: str, kind: str) -> IngestResult | None:
    """The verdict on the last list of this kind seen from this source: what
    a 304 Not Modified, or the same bytes served again, still means."""
    latest = db.meta.get(_meta_key("latest", source, kind))
    if latest is None:
        return None
    if latest.get("verdict") == QUARANTINED:
        return IngestResult(QUARANTINED, latest.get("reason"), repeated=True)
    return IngestResult(UNCHANGED, f"same content as the list seen at {latest['observed_at']}", repeated=True)


def repeat_of(db: StateDB, source: str, kind: str, sha256: str) -> IngestResult | None:
    """The one place that decides whether a list is unchanged: the same bytes
    as the last list seen from the source get that list's verdict again
    (unchanged, or still quarantined) without being read; None for new bytes."""
    latest = db.meta.get(_meta_key("latest", source, kind))
    if latest and latest["sha256"] == sha256:
        return last_seen(db, source, kind)
    return None


def ingest(db: StateDB, snapshot: Snapshot, policy: Policy) -> IngestResult:
    """Gate, diff and store one snapshot. The events it returns are not yet
    in the log: record them with ``journal.record`` in the same session."""
    repeated = repeat_of(db, snapshot.source, snapshot.kind, snapshot.sha256)
    if repeated:
        return repeated
    if db.snapshots.recorded(snapshot.source, snapshot.kind, snapshot.sha256, snapshot.observed_at):
        return IngestResult(DUPLICATE, "this file at this time is already recorded")
    if snapshot.content is not None:
        db.archive(snapshot.sha256, snapshot.content, ARCHIVE_SUFFIX[snapshot.format])

    last_good_meta = db.meta.get(_meta_key("last_good", snapshot.source, snapshot.kind))
    last_good = None
    if last_good_meta:
        last_good = gate.LastGood(last_good_meta["sha256"], last_good_meta["rows"],
                                  frozenset(last_good_meta["keys"]))
    other = db.meta.get(_meta_key("latest", snapshot.source, _other_kind(snapshot.kind)))
    # Each row's agreement key, made once for the gate, the differ and the meta.
    row_keys = [row.key for row in snapshot.roster.rows] if snapshot.roster else []
    keys = frozenset(row_keys)
    reason = gate.check(snapshot, last_good, policy.gate_for(snapshot.kind),
                        other_kind_sha=other["sha256"] if other else None, keys=keys)
    db.meta.set(_meta_key("latest", snapshot.source, snapshot.kind),
                {"sha256": snapshot.sha256, "observed_at": snapshot.observed_at,
                 "verdict": QUARANTINED if reason else ACCEPTED, "reason": reason})
    if reason:
        return _quarantine(db, snapshot, reason)

    baseline = last_good is None
    outcome = _diff(db, snapshot, policy, baseline, row_keys)
    snapshot_id = _record_snapshot(db, snapshot, BASELINE if baseline else ACCEPTED, None,
                                   len(keys), len(outcome.events), dict(outcome.stats))
    db.meta.set(_meta_key("last_good", snapshot.source, snapshot.kind), {
        "snapshot_id": snapshot_id, "sha256": snapshot.sha256, "observed_at": snapshot.observed_at,
        "rows": len(keys), "keys": sorted(keys), "file_name": snapshot.file_name,
    })
    return IngestResult(BASELINE if baseline else ACCEPTED, None, outcome.events, snapshot_id, dict(outcome.stats))


def _quarantine(db: StateDB, snapshot: Snapshot, reason: str) -> IngestResult:
    # The operator is told once per distinct bad file, however often it is served.
    told_before = db.snapshots.quarantined_before(snapshot.source, snapshot.sha256)
    rows = len(snapshot.roster.rows) if snapshot.roster else 0
    snapshot_id = _record_snapshot(db, snapshot, QUARANTINED, reason, rows, 0, {})
    events = []
    if not told_before:
        events = [ev.operator_event(
            ev.SNAPSHOT_QUARANTINED, snapshot.observed_at,
            f"{snapshot.source} {snapshot.kind} list quarantined: {reason}",
            source={**snapshot.source_record(), "source": snapshot.source}, reason=reason,
            snapshot_id=snapshot_id)]
    return IngestResult(QUARANTINED, reason, events, snapshot_id)


def _diff(db: StateDB, snapshot: Snapshot, policy: Policy, baseline: bool, row_keys: list[str]) -> Outcome:
    snap = ListSnapshot(source=snapshot.source, observed_at=snapshot.observed_at,
                        evidence=snapshot.source_record())
    mine, other = (db.agreements, db.pending) if snapshot.kind == "participating" else (db.pending, db.agreements)
    diff = diff_agreements if snapshot.kind == "participating" else diff_pending
    with mine.editing(snapshot.source) as records, other.editing(snapshot.source) as others:
        outcome = diff(records, others, snapshot.roster, snap, policy, baseline, row_keys)
        records.extend(outcome.new_records)
    return outcome


def _record_snapshot(db: StateDB, snapshot: Snapshot, verdict: str, reason: str | None,
                     rows: int, event_count: int, stats: dict) -> int:
    roster = snapshot.roster
    notes = roster.notes if roster else []
    return db.snapshots.add({
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
