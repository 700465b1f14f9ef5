"""Compare a good list with the stored records of its kind; produce events.

Pure functions over plain dicts: the stored records of one source and list
(agreements or pending applications) and a parsed Roster go in; the records
are updated in place, new ones appended, and the events come out. Nothing
here reads or writes the store.

The life of an agreement record::

    listed --(off the list)--> missing --(debounce met)--> terminated
       ^                          |                            |
       +-----(back on the list)---+     (back, same MOA) ------+  reinstated

A row that is back with a new signing date after its agreement was reported
terminated is a new agreement (ICE publishes a new MOA for it). A record that
leaves the list while ICE still lists the same agreement under another
spelling (``City of St. Cloud PD`` beside ``St. Cloud PD``) was a duplicate
listing: it is merged into the other record, not reported terminated.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from watch287g.core import events as ev
from watch287g.core.records import Roster, Row, agreement_key
from watch287g.state import identity
from watch287g.state.policy import Debounce, Policy

LISTED, MISSING, TERMINATED, MERGED = "listed", "missing", "terminated", "merged"
WITHDRAWN, SIGNED = "withdrawn", "signed"
# Fields compared for corrections; a blank new value never erases a known one
# (ICE blanks cells by mistake far more often than it removes information).
COMPARED_FIELDS = ("agency", "state", "model", "county", "agency_type", "moa_url", "addendum_url")
# Everything a row sets on its record, compared at C speed: most rows of most
# lists say exactly what their record holds.
_ROW_FIELDS = (*COMPARED_FIELDS, "agency_key", "signed")
_row_values = operator.attrgetter(*_ROW_FIELDS)
_record_values = operator.itemgetter(*_ROW_FIELDS)
_uid = operator.itemgetter("uid")


@dataclass
class ListSnapshot:
    """What the differ needs to know about the list being compared."""

    source: str
    observed_at: str
    evidence: dict          # the snapshot's source record, cited by every event


@dataclass
class Outcome:
    events: list[dict] = field(default_factory=list)
    new_records: list[dict] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)


def _days_between(earlier: str, later: str) -> float:
    return (dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)).total_seconds() / 86400


@dataclass
class _Groups:
    """The list's rows by agreement key (state, agency, model). ICE sometimes
    lists one agreement twice (St. Cloud PD with two dates): one agreement,
    several rows; the key's place is its first row's. Only repeated keys get
    a list, so a 100,000-row list makes no 100,000 small lists."""

    rows: list[Row]                                                 # as listed
    position: dict[str, int]                                        # key -> its first row's place
    repeats: dict[int, list[Row]] = field(default_factory=dict)     # first place -> all the key's rows
    later: set[int] = field(default_factory=set)                    # places of a key's second and later rows

    def firsts(self) -> list[Row]:
        """Each key's first row, in list order."""
        if not self.later:
            return self.rows
        return [row for at, row in enumerate(self.rows) if at not in self.later]

    def pick(self, at: int, record: dict) -> Row:
        """Of a duplicated agreement's rows, the one that agrees with what we know."""
        row = self.rows[at]
        if at in self.repeats and row.signed != record.get("signed"):
            return next((r for r in self.repeats[at] if r.signed == record.get("signed")), row)
        return row


def _group_rows(roster: Roster, stats: Counter, keys: Sequence[str] | None = None) -> _Groups:
    """``keys``: the rows' agreement keys in order, when the caller has them."""
    rows = roster.rows
    keys = keys if keys is not None else [row.key for row in rows]
    # Built from the end, so that a repeated key keeps its first place.
    groups = _Groups(rows, dict(zip(reversed(keys), range(len(keys) - 1, -1, -1))))
    if len(groups.position) < len(rows):
        for at, key in enumerate(keys):
            first = groups.position[key]
            if first != at:
                groups.later.add(at)
                groups.repeats.setdefault(first, [rows[first]]).append(rows[at])
                stats["duplicate_rows"] += 1
    return groups


@dataclass
class _Pairs:
    """Records and the rows that list them, as parallel lists (no tuple per row)."""

    records: list[dict] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    how: list[str] = field(default_factory=list)    # "exact" or "evidence"

    def add(self, record: dict, row: Row, how: str) -> None:
        self.records.append(record)
        self.rows.append(row)
        self.how.append(how)

    def __iter__(self) -> Iterator[tuple[dict, Row, str]]:
        return zip(self.records, self.rows, self.how)


# A list place's claim (see _claim): no record's yet, paired with a record,
# taken by a record that pairs with an earlier place, or not a key's first
# row (never claimed: its key's first row stands for it).
_FREE, _PAIRED, _PASSED_OVER, _LATER_ROW = 0, 1, 2, 3


def _claim(record: dict, position: dict[str, int], claims: bytearray) -> int | None:
    """Claim the list places of the rows that carry the record's key or one
    of its earlier spellings (so a name that flips back, GREEN FORKS, GREENS
    FORK, matches exactly); a place already claimed stays with its first
    record. Returns the first place, which the record pairs with; any later
    one it claimed is passed over (its row is left for the other rules)."""
    state, model = record["state"], record["model"]
    at = position.get(agreement_key(state, record["agency_key"], model))
    if at is not None and claims[at]:
        at = None
    for alias in record.get("aliases") or ():
        other = position.get(agreement_key(state, alias, model))
        if other is None or other == at or claims[other]:
            continue
        if at is not None:
            claims[max(at, other)] = _PASSED_OVER
        at = other if at is None else min(at, other)
    if at is not None:
        claims[at] = _PAIRED
    return at


_SLUG = re.compile(r"[^a-z0-9]+")


def new_uid(row: Row, day: str | None, taken: set[str]) -> str:
    """A readable, stable id: state, agency, model and date. Readers cite it."""
    model = {"Jail Enforcement Model": "jem", "Task Force Model": "tfm",
             "Warrant Service Officer": "wso"}.get(row.model or "", "unknown")
    base = _SLUG.sub("-", f"{row.state or 'xx'} {row.agency_key} {model} {day or ''}".lower()).strip("-")
    uid, n = base, 2
    while uid in taken:
        uid, n = f"{base}-{n}", n + 1
    taken.add(uid)
    return uid


def _new_record(row: Row, snap: ListSnapshot, taken: set[str]) -> dict:
    record = {
        "uid": new_uid(row, row.signed or snap.observed_at[:10], taken),
        "source": snap.source,
        "status": LISTED,
        "aliases": [],
        "first_seen": snap.observed_at,
        "missing_since": None,
        "missing_count": 0,
        "flaps": 0,
    }
    _apply_row(record, row, snap)
    return record


def _same_values(record: dict, row: Row) -> bool:
    try:
        return _row_values(row) == _record_values(record)
    except KeyError:    # a record made before one of the fields was kept
        return _row_values(row) == tuple(map(record.get, _ROW_FIELDS))


def _apply_row(record: dict, row: Row, snap: ListSnapshot) -> None:
    _copy_values(record, row)
    _mark_seen(record, row, snap)


def _copy_values(record: dict, row: Row) -> None:
    if record.get("agency_key") and record["agency_key"] != row.agency_key \
            and record["agency_key"] not in record["aliases"]:
        record["aliases"].append(record["agency_key"])
    record["state"], record["agency"] = row.state, row.agency
    record["agency_key"], record["model"] = row.agency_key, row.model
    for name in ("county", "agency_type", "moa_url", "addendum_url", "signed"):
        value = getattr(row, name)
        if value is not None or name not in record:
            record[name] = value


def _mark_seen(record: dict, row: Row, snap: ListSnapshot) -> None:
    """The record cites the list and line that listed it last. Every record
    a list lists shares that list's one evidence dict (the store keeps it
    once per part, not once per record), and the row's own values, not a
    copy: nothing changes a parsed row or a list's evidence."""
    record["last_seen"] = snap.observed_at
    record["listed_in"] = snap.evidence
    record["listed_line"] = row.line
    record["listed_values"] = row.raw


def last_listed(record: dict) -> dict:
    """The list and line that listed the record last, as events cite it."""
    return {**record["listed_in"], "line": record["listed_line"]}


def listed_row(record: dict) -> dict:
    """The row that listed the record last, as events cite it."""
    return {"line": record["listed_line"], "values": record["listed_values"]}


def _changes(record: dict, row: Row) -> dict:
    if _same_values(record, row):
        return {}
    changes = {}
    for name in COMPARED_FIELDS:
        old, new = record.get(name), getattr(row, name)
        if new is None or new == old:
            continue
        if isinstance(old, str) and isinstance(new, str) and old.casefold() == new.casefold():
            continue  # ICE switching between ALL CAPS and Title Case is not news
        if old != new:
            changes[name] = {"old": old, "new": new}
    return changes


def _event(kind: str, record: dict, snap: ListSnapshot, row: Row | None, **extra) -> dict:
    evidence = row.evidence() if row is not None else listed_row(record)
    return ev.record_event(kind, record, snap.observed_at, snap.evidence, evidence, **extra)


def _debounce_met(record: dict, snap: ListSnapshot, debounce: Debounce) -> bool:
    return (record["missing_count"] >= debounce.min_missing_snapshots
            and _days_between(record["missing_since"], snap.observed_at) >= debounce.min_missing_days)


def _confirmed_gone(gone: list[dict], settled: str, snap: ListSnapshot, debounce: Debounce) -> Iterator[dict]:
    """Count another list without each record; yield those whose absence the
    debounce now confirms. Records already in the ``settled`` status (merged
    duplicates, signed applications) left quietly and are not counted."""
    for record in gone:
        if record["status"] == settled:
            continue
        _mark_missing(record, snap)
        if _debounce_met(record, snap, debounce):
            yield record


def _relist(record: dict) -> None:
    if record["status"] != LISTED:
        record.update(status=LISTED, missing_since=None, missing_count=0)


def _mark_missing(record: dict, snap: ListSnapshot) -> None:
    if record["status"] == LISTED:
        record.update(status=MISSING, missing_since=snap.observed_at, missing_count=1)
    else:
        record["missing_count"] += 1


@dataclass
class _Matched:
    """A list's rows paired with the stored records (see _match)."""

    pairs: _Pairs           # the pairs still to update, exact ones in list order, then the others
    gone: list[dict]        # live records no row lists
    new_rows: list[Row]     # rows no record answers
    exact: list[dict | None]    # the record each list place paired with exactly
    terminated: list[dict]      # agreements reported terminated (a row may bring one back)

    def listed(self) -> list[dict]:
        """Every paired record, exact pairs in list order first."""
        exact = [record for record in self.exact if record is not None]
        return exact + [record for record, _row, how in self.pairs if how != "exact"]


def _listed_unchanged(record: dict, row: Row, snap: ListSnapshot) -> bool:
    """Most rows of most lists: a listed record listed again, its values
    unchanged. Updating it is only to note where it was seen (what the full
    update of an agreement or an application does then too), so it is done
    at once, while pairing."""
    if record["status"] == LISTED and _same_values(record, row):
        _mark_seen(record, row, snap)
        return True
    return False


def _match(records: list[dict], groups: _Groups, settled: str, snap: ListSnapshot) -> _Matched:
    """Pair the live records (listed, missing or ``settled``) with rows:
    exact keys (and earlier spellings) first, then identity evidence for
    what is left on both sides. Records in the ``settled`` status (a signed
    application, a merged duplicate) pair by exact evidence only, so history
    never feeds the fuzzy pairing.

    One pass over the records looks each one's key up among the rows' keys
    (a record still in play claims its keys before the settled ones), and
    an unchanged record listed again is updated there and then: a long list
    is walked once, not once to pair and once more to update."""
    claims = bytearray(len(groups.rows))      # all _FREE
    for at in groups.later:
        claims[at] = _LATER_ROW
    exact: list[dict | None] = [None] * len(groups.rows)
    to_update: list[tuple[int, Row]] = []
    unmatched, settled_records = [], []     # in record order; a settled one stays only if it pairs with nothing
    terminated: list[dict] = []

    rows, repeats = groups.rows, groups.repeats

    def pair(record: dict, at: int) -> None:
        row = groups.pick(at, record) if at in repeats else rows[at]
        exact[at] = record
        if not _listed_unchanged(record, row, snap):
            to_update.append((at, row))

    for record in records:
        status = record["status"]
        if status == settled:
            settled_records.append(record)
            unmatched.append(record)
        elif status == LISTED or status == MISSING:
            at = _claim(record, groups.position, claims)
            if at is None:
                unmatched.append(record)
            else:
                pair(record, at)
        elif status == TERMINATED:
            terminated.append(record)
    settled_paired = set()
    for record in settled_records:
        at = _claim(record, groups.position, claims)
        if at is not None:
            pair(record, at)
            settled_paired.add(id(record))
    if settled_paired:
        unmatched = [r for r in unmatched if id(r) not in settled_paired]
    pairs = _Pairs()
    for at, row in sorted(to_update, key=operator.itemgetter(0)):
        pairs.add(exact[at], row, "exact")
    leftover_rows = [row for row, claim in zip(groups.rows, claims) if claim == _FREE or claim == _PASSED_OVER]
    # A settled record can only pair by exact evidence: look at it only when a
    # leftover row carries its agency key or MOA address.
    row_names = {row.agency_key for row in leftover_rows}
    row_documents = {row.moa_url for row in leftover_rows if row.moa_url}
    leftover_records = [r for r in unmatched if r["status"] != settled
                        or r["agency_key"] in row_names or r.get("moa_url") in row_documents]
    fuzzy = identity.pair_up([identity.view(r) for r in leftover_records], leftover_rows,
                             settled=frozenset(i for i, r in enumerate(leftover_records) if r["status"] == settled))
    for i, j, _points in fuzzy:
        pairs.add(leftover_records[i], leftover_rows[j], "evidence")
    paired_records = {id(leftover_records[i]) for i, _j, _points in fuzzy}
    paired_rows = {j for _i, j, _points in fuzzy}
    return _Matched(pairs, [r for r in unmatched if id(r) not in paired_records],
                    [row for j, row in enumerate(leftover_rows) if j not in paired_rows], exact, terminated)


class _NameLookup:
    """Records of the other side (listed agreements, open applications) by
    state and model, to find the one a record names: same state and model
    and a near name. Grouped on the first lookup: most lists need none."""

    def __init__(self, records: Iterable[dict], statuses: tuple[str, ...] | None = None) -> None:
        self.records = records
        self.statuses = statuses        # only records in these, if given
        self._by_where: dict[tuple, list[dict]] | None = None
        self._names: dict[tuple, list[str]] = {}    # of the groups looked in

    def named_like(self, record: dict | Row, min_name_points: int) -> list[dict]:
        """Same state and model, name at least this near; in list order."""
        if self._by_where is None:
            self._by_where = self._group()
        probe = identity.view(record) if isinstance(record, dict) else record
        where = (probe.state, probe.model)
        others = self._by_where.get(where, [])
        names = self._names.get(where)
        if names is None:
            names = self._names[where] = [other["agency_key"] for other in others]
        return [others[at] for at in identity.names_at_least(probe.agency_key, names, min_name_points)
                if others[at] is not record]

    def _group(self) -> dict[tuple, list[dict]]:
        by_where: dict[tuple, list[dict]] = {}
        for other in self.records:
            if self.statuses is None or other["status"] in self.statuses:
                where = (other["state"], other["model"])
                group = by_where.get(where)
                if group is None:
                    by_where[where] = [other]
                else:
                    group.append(other)
        return by_where


def _start(records: list[dict], roster: Roster, snap: ListSnapshot, baseline: bool, settled: str,
           row_keys: Sequence[str] | None) -> tuple[Outcome, _Matched | None]:
    """Group the list's rows and pair them with the live records (those
    listed, missing or ``settled``). On a baseline every row becomes a record
    silently (the first good list of a kind sets state, it reports nothing)
    and nothing is paired."""
    out = Outcome()
    groups = _group_rows(roster, out.stats, row_keys)
    if baseline:
        taken = _uids(records)
        for row in groups.firsts():
            out.new_records.append(_new_record(row, snap, taken))
        return out, None
    return out, _match(records, groups, settled, snap)


def _uids(records: list[dict]) -> set[str]:
    """The uids taken, for naming new records (most lists make none)."""
    return set(map(_uid, records))


def diff_agreements(records: list[dict], pending: list[dict], roster: Roster, snap: ListSnapshot,
                    policy: Policy, baseline: bool, row_keys: Sequence[str] | None = None) -> Outcome:
    """Diff a good participating list against the source's agreement records.
    ``row_keys``: the list's rows' agreement keys, if the caller has them."""
    out, matched = _start(records, roster, snap, baseline, MERGED, row_keys)
    if matched is None:
        return out
    pairs, gone, new_rows = matched.pairs, matched.gone, matched.new_rows
    for record, row, how in pairs:
        _update_listed(record, row, how, snap, policy, out)
    new_rows = _reinstate(matched.terminated, new_rows, snap, out)
    applications = _NameLookup(pending, (LISTED, MISSING))
    taken = _uids(records) if new_rows else set()
    for row in new_rows:
        record = _new_record(row, snap, taken)
        pending_record = _pending_match(applications, row)
        extra = {"from_pending": pending_record is not None}
        if pending_record is not None:
            pending_record.update(status=SIGNED, agreement_uid=record["uid"])
            extra["pending_since"] = pending_record["first_seen"]
            out.stats["signed_from_pending"] += 1
        record["from_pending"] = extra["from_pending"]
        out.new_records.append(record)
        out.events.append(_event(ev.SIGNED, record, snap, row, **extra))
        out.stats["signed"] += 1
    twins = None
    for record in _confirmed_gone(gone, MERGED, snap, policy.debounce):
        twins = twins or _NameLookup(matched.listed())
        twin = _listed_twin(record, twins)
        if twin is not None:
            record.update(status=MERGED, merged_into=twin["uid"])
            twin["aliases"] = sorted({*twin["aliases"], record["agency_key"], *record["aliases"]}
                                     - {twin["agency_key"]})
            out.stats["merged_duplicate_listings"] += 1
        else:
            record.update(status=TERMINATED, terminated_at=snap.observed_at)
            out.events.append(_event(ev.TERMINATED, record, snap, None,
                                     last_listed=last_listed(record),
                                     missing_since=record["missing_since"],
                                     lists_without_it=record["missing_count"]))
            out.stats["terminated"] += 1
    return out


def _listed_twin(record: dict, listed: _NameLookup) -> dict | None:
    """A listed record that the identity evidence says is this same agreement:
    same state and model, a near name, and enough other evidence to pair."""
    candidates = listed.named_like(record, identity.LOOSELY_NEAR)
    pairs = identity.pair_up([identity.view(record)], [identity.view(r) for r in candidates])
    return candidates[pairs[0][1]] if pairs else None


def _update_listed(record: dict, row: Row, how: str, snap: ListSnapshot, policy: Policy, out: Outcome) -> None:
    if _listed_unchanged(record, row, snap):
        return
    if record["status"] == MERGED:
        # ICE lists the duplicate again: the agreement itself has not changed.
        out.stats["merged_listing_back"] += 1
        _relist(record)
        _apply_row(record, row, snap)
        return
    if record["status"] == MISSING:
        record["flaps"] = record.get("flaps", 0) + 1
        out.stats["returned_within_debounce"] += 1
    changes = _changes(record, row)
    renewal = None
    old_signed, new_signed = record.get("signed"), row.signed
    if new_signed and old_signed != new_signed:
        delta = (dt.date.fromisoformat(new_signed) - dt.date.fromisoformat(old_signed)).days if old_signed else None
        if delta is not None and delta >= policy.renewal_min_days:
            renewal = {"old": old_signed, "new": new_signed}
        else:
            changes["signed"] = {"old": old_signed, "new": new_signed}
    _relist(record)
    _apply_row(record, row, snap)
    if renewal:
        out.events.append(_event(ev.RENEWED, record, snap, row, previous_signed=renewal["old"],
                                 changes={"signed": renewal, **changes}))
        out.stats["renewed"] += 1
    elif changes:
        out.events.append(_event(ev.CORRECTED, record, snap, row, changes=changes, matched_by=how))
        out.stats["corrected"] += 1
        for name in changes:
            out.stats[f"corrected_{name}"] += 1


def _reinstate(ended: list[dict], rows: list[Row], snap: ListSnapshot, out: Outcome) -> list[Row]:
    """Rows that bring back one of the ``ended`` agreements, reported
    terminated (same MOA: same signing date or document). Returns the rows
    that are new agreements."""
    if not ended or not rows:
        return rows
    pairs = identity.pair_up([identity.view(r) for r in ended], rows)
    back = set()
    for i, j, _points in pairs:
        record, row = ended[i], rows[j]
        same_moa = bool(record.get("moa_url") and record["moa_url"] == row.moa_url)
        if not same_moa and record.get("signed") and row.signed and record["signed"] != row.signed:
            continue  # a new signing date: a new MOA, reported as signed
        changes = _changes(record, row)
        terminated_at = record.get("terminated_at")
        record.update(status=LISTED, missing_since=None, missing_count=0, terminated_at=None)
        _apply_row(record, row, snap)
        out.events.append(_event(ev.REINSTATED, record, snap, row, terminated_at=terminated_at,
                                 **({"changes": changes} if changes else {})))
        out.stats["reinstated"] += 1
        back.add(j)
    return [row for j, row in enumerate(rows) if j not in back]


def _pending_match(applications: _NameLookup, row: Row) -> dict | None:
    """The open application this new agreement answers, if any: same state
    and model, and a name that is the same or near (the nearest wins)."""
    best, best_points = None, identity.NEAR - 1
    for record in applications.named_like(row, identity.NEAR):
        points = identity.name_points(record["agency_key"], row.agency_key)
        if record["status"] in (LISTED, MISSING) and points > best_points:
            best, best_points = record, points
    return best


def diff_pending(records: list[dict], agreements: list[dict], roster: Roster, snap: ListSnapshot,
                 policy: Policy, baseline: bool, row_keys: Sequence[str] | None = None) -> Outcome:
    """Diff a good pending list against the source's pending records.

    An application that leaves the list because ICE signed it is not
    withdrawn: the participating diff marks it signed, and a withdrawal is
    only reported after the same debounce as a termination."""
    out, matched = _start(records, roster, snap, baseline, SIGNED, row_keys)
    if matched is None:
        return out
    pairs, gone, new_rows = matched.pairs, matched.gone, matched.new_rows
    for record, row, _how in pairs:
        if record["status"] == MISSING:
            out.stats["pending_returned_within_debounce"] += 1
            _relist(record)
        _apply_row(record, row, snap)
    participating = _NameLookup(agreements, (LISTED,))
    taken = _uids(records) if new_rows else set()
    for row in new_rows:
        record = _new_record(row, snap, taken)
        if _agreement_for(participating, record):
            record["status"] = SIGNED  # already participating: ICE's lists lag each other
            out.stats["pending_already_signed"] += 1
        else:
            out.events.append(_event(ev.PENDING_ADDED, record, snap, row))
            out.stats["pending_added"] += 1
        out.new_records.append(record)
    for record in _confirmed_gone(gone, SIGNED, snap, policy.debounce):
        agreement = _agreement_for(participating, record)
        if agreement is not None:
            record.update(status=SIGNED, agreement_uid=agreement["uid"])
            out.stats["pending_left_as_signed"] += 1
        else:
            record.update(status=WITHDRAWN, withdrawn_at=snap.observed_at)
            out.events.append(_event(ev.PENDING_WITHDRAWN, record, snap, None,
                                     last_listed=last_listed(record),
                                     missing_since=record["missing_since"]))
            out.stats["pending_withdrawn"] += 1
    return out


def _agreement_for(participating: _NameLookup, record: dict) -> dict | None:
    """A listed agreement of the same state and model with a near name."""
    agreements = participating.named_like(record, identity.NEAR)
    return agreements[0] if agreements else None
