"""The snapshot gate: is this list fit to be compared with the last good one?

A download can be blocked, truncated, swapped with the other list or
relabelled, and any of those diffed naively would turn into hundreds of false
alerts. The gate looks only at the snapshot and a summary of the last good
list of the same kind; it returns a reason when the snapshot must be
quarantined. It never looks at subscribers or events.
"""

from __future__ import annotations

from dataclasses import dataclass

from watch287g.core.records import Roster, Snapshot
from watch287g.state.policy import GatePolicy

_FIELD_HEADERS = {"state": "STATE", "agency": "LAW ENFORCEMENT AGENCY", "model": "SUPPORT TYPE"}


@dataclass(frozen=True)
class LastGood:
    """What the gate needs to know of the last good list of a kind."""

    sha256: str
    rows: int
    keys: frozenset[str]


def row_keys(roster: Roster) -> frozenset[str]:
    """The list's agreements as comparable strings (duplicates collapse)."""
    return frozenset(row.key for row in roster.rows)


def check(snapshot: Snapshot, last_good: LastGood | None, policy: GatePolicy,
          other_kind_sha: str | None = None, keys: frozenset[str] | None = None) -> str | None:
    """None when the snapshot may be diffed, else the one-line reason.
    ``keys``: the list's row_keys, if the caller has them."""
    roster = snapshot.roster
    if snapshot.error or roster is None:
        return f"unreadable file: {snapshot.error or 'no content'}"
    if roster.shape is None:
        return "no header row naming STATE and LAW ENFORCEMENT AGENCY: not one of ICE's lists"
    if roster.missing_fields:
        names = ", ".join(_FIELD_HEADERS[f] for f in roster.missing_fields)
        return f"required column missing: {names} (header: {' | '.join(roster.columns)})"
    if roster.shape != snapshot.kind:
        return (f"the {snapshot.kind} link served a list shaped like the {roster.shape} list "
                f"(header: {' | '.join(roster.columns)}): lists swapped?")
    if other_kind_sha and other_kind_sha == snapshot.sha256:
        return f"the {snapshot.kind} link served the same file as the other list"
    keys = row_keys(roster) if keys is None else keys
    count = len(keys)
    if count < policy.min_rows:
        return f"only {count} agreements listed (at least {policy.min_rows} expected)"
    unreadable = sum(1 for r in roster.rows if r.state is None or r.model is None)
    if roster.rows and unreadable / len(roster.rows) > policy.max_unreadable_fraction:
        return (f"{unreadable} of {len(roster.rows)} rows have no readable state or model: "
                "columns shifted or relabelled?")
    if last_good is None or last_good.rows < policy.ratio_floor:
        return None
    if policy.max_drop_fraction is not None and count < last_good.rows * (1 - policy.max_drop_fraction):
        return (f"{count} agreements, down from {last_good.rows} in the last good list "
                f"(more than {policy.max_drop_fraction:.0%} fewer): partial or wrong list?")
    if policy.min_kept_fraction is not None and last_good.keys:
        kept = len(keys & last_good.keys) / len(last_good.keys)
        if kept < policy.min_kept_fraction:
            return (f"only {kept:.0%} of the last good list's agreements are in it "
                    f"(at least {policy.min_kept_fraction:.0%} expected): wrong or relabelled list?")
    return None
