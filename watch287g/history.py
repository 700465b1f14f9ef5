"""Read-only access to what watch287g has recorded: the lists it accepted,
their archived workbooks, the event log and the agreement records.

Everything the figures, exports, feeds and the report read from the state
comes through here, so they depend on one small surface rather than on the
store's tables. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from watch287g.core.errors import UserError
from watch287g.core.records import Roster
from watch287g.core.timeutil import parse_iso
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.state.store import Store

GOOD_VERDICTS = ("baseline", "accepted")
WORKBOOK_SUFFIX = ".xlsx"       # archived lists (HTML-table sources archive no workbook)


@dataclass(frozen=True)
class ListRecord:
    """One list as watch287g observed it (a snapshot record)."""

    kind: str
    observed_at: str            # ISO 8601 UTC, when the list was first seen live
    file_name: str | None       # ICE's file name
    sha256: str
    rows: int                   # distinct agreements the gate counted
    verdict: str                # baseline | accepted | quarantined
    reason: str | None
    moment: dt.datetime         # observed_at, parsed

    @property
    def good(self) -> bool:
        return self.verdict in GOOD_VERDICTS

    def evidence(self) -> dict:
        return {"kind": self.kind, "file_name": self.file_name, "sha256": self.sha256,
                "observed_at": self.observed_at}


class History:
    """One source's recorded history, loaded once from the data directory."""

    def __init__(self, store: Store, source: str = "ice") -> None:
        if not store.exists():
            raise UserError(f"no state in {store.data_dir} yet: run `watch287g check` or "
                            "`watch287g replay MANIFEST.csv` first")
        self.store = store
        self.source = source
        db = store.read()
        self._snapshots = _snapshot_records(db.snapshots.all(), source)
        self._events = [dict(e) for e in db.events.in_order()]
        self._agreements = [dict(r) for r in db.agreements.of_source(source)]
        self._pending = [dict(r) for r in db.pending.of_source(source)]
        self._rosters = lru_cache(maxsize=256)(self._read_roster)

    # --- lists ---------------------------------------------------------------

    def lists(self, kind: str, good_only: bool = True) -> list[ListRecord]:
        """The source's lists of one kind, oldest first."""
        return [s for s in self._snapshots if s.kind == kind and (s.good or not good_only)]

    def live_list(self, kind: str, as_of: dt.datetime) -> ListRecord | None:
        """The list live at ``as_of``: the last good one observed at or before it."""
        live = None
        for record in self.lists(kind):
            if record.moment > as_of:
                break
            live = record
        return live

    def lists_at(self, as_of: dt.datetime) -> tuple[tuple[ListRecord, Roster], tuple[ListRecord, Roster] | None]:
        """The participating and pending lists live at ``as_of``, with their
        rows. A time before the first participating list is a user error."""
        participating = self.live_list("participating", as_of)
        if participating is None:
            first = self.lists("participating")
            raise UserError(f"no participating list was observed at or before {as_of:%Y-%m-%d %H:%M} UTC"
                            + (f" (the first was observed {first[0].observed_at})" if first else
                               f" (none is recorded for source {self.source!r})"))
        pending = self.live_list("pending", as_of)
        return ((participating, self.roster(participating)),
                (pending, self.roster(pending)) if pending else None)

    def roster(self, record: ListRecord) -> Roster:
        """The rows of a recorded list, read again from its archived workbook
        with the same reader the check used."""
        return self._rosters(record)

    def archive_path(self, sha256: str) -> Path:
        return self.store.archive_path(sha256, WORKBOOK_SUFFIX)

    def cache_dir(self) -> Path:
        """Where figures derived from archived files may be kept (never state)."""
        return self.store.data_dir / "cache"

    def _read_roster(self, record: ListRecord) -> Roster:
        path = self.store.archive_path(record.sha256, WORKBOOK_SUFFIX)
        try:
            content = path.read_bytes()
        except OSError as err:
            raise UserError(f"the archived workbook of {record.file_name} ({record.observed_at}) "
                            f"cannot be read: {path}: {err.strerror or err}") from None
        snapshot = snapshot_from_workbook(self.source, record.kind, record.observed_at, record.file_name, content)
        if snapshot.roster is None:
            raise UserError(f"the archived workbook {path} cannot be read: {snapshot.error}")
        return snapshot.roster

    # --- events and records ----------------------------------------------------

    def events(self) -> list[dict]:
        """The whole event log (every source: health events name none), oldest first."""
        return list(self._events)

    def list_events(self) -> list[dict]:
        """The events about this source's agreements and applications."""
        uids = {r["uid"] for r in self._agreements} | {r["uid"] for r in self._pending}
        return [e for e in self._events if e.get("uid") in uids]

    def agreements(self) -> list[dict]:
        return list(self._agreements)

    def applications(self) -> list[dict]:
        """Pending-list records (applications)."""
        return list(self._pending)

    def records(self, kind: str) -> list[dict]:
        return self.agreements() if kind == "participating" else self.applications()


def _snapshot_records(docs, source: str) -> list[ListRecord]:
    """Snapshot records in the order they were observed (the order they were
    recorded breaks ties: both lists of one check share a time)."""
    ordered = sorted((doc for doc in docs if doc.get("source") == source), key=lambda doc: doc["observed_at"])
    return [ListRecord(kind=doc["kind"], observed_at=doc["observed_at"], file_name=doc.get("file_name"),
                       sha256=doc["sha256"], rows=doc.get("rows", 0), verdict=doc["verdict"],
                       reason=doc.get("reason"), moment=parse_iso(doc["observed_at"]))
            for doc in ordered]
