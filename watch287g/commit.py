"""The application step: "a source was fetched" -> gate -> diff -> store ->
journal -> outbox, in one write session.

``watch287g check`` calls ``commit_check`` for each source the spiders
fetched; ``watch287g replay`` calls ``commit_snapshot`` for each archived
list. For one check, everything is a single atomic write:

* each list body is hashed; one equal to the last body seen for that list
  (or a 304 Not Modified) is "unchanged" and writes no snapshot; anything
  else becomes a Snapshot (workbook or HTML table) and goes through
  ``state.ingest`` — including files the reader refuses, which the gate
  quarantines with their reason;
* a watched page's reading is compared with the last one (``page.changed``);
* the check itself is recorded, and ``state.health`` raises source.failing /
  source.recovered once per streak;
* every event goes through the journal with the deliveries the alerts'
  router says it needs (none in a dry run).

With ``--dry-run`` the same work runs on a copy of the state that is never
written, and nothing is archived or queued.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

from watch287g.alerts import outbox
from watch287g.core.records import (
    ListDownload,
    Snapshot,
    SourceCheck,
    sha256_hex,
)
from watch287g.core.timeutil import now_iso
from watch287g.readers import html_table, pages
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.settings import Settings
from watch287g.state import health, journal
from watch287g.state.ingest import (
    QUARANTINED,
    UNCHANGED,
    IngestResult,
    ingest,
    last_seen,
    repeat_of,
)
from watch287g.state.store import StateDB, Store


@dataclass
class Committer:
    """Commits fetched sources and replayed lists into one store."""

    settings: Settings
    store: Store
    dry_run: bool = False
    notify: bool = True          # queue deliveries for new events (replay may not)

    @contextlib.contextmanager
    def session(self):
        """A write session; with --dry-run, a copy of the state that is
        never written."""
        if self.dry_run:
            yield self.store.read()
        else:
            with self.store.write() as db:
                yield db

    def _journal(self, db: StateDB, events: list[dict], now: str) -> list[dict]:
        if self.dry_run:
            return events
        plan = (outbox.deliveries(db, self.settings.alerts, self.settings.subscriptions, now)
                if self.notify else None)
        return journal.record(db, events, plan)

    def commit_snapshot(self, db: StateDB, snapshot: Snapshot) -> IngestResult:
        """One list through gate, differ and store, its events journaled."""
        if self.dry_run:
            snapshot = dataclasses.replace(snapshot, content=None)  # nothing archived
        result = ingest(db, snapshot, self.settings.policy)
        self._journal(db, result.events, snapshot.observed_at)
        return result

    def commit_check(self, check: SourceCheck) -> dict:
        """Record one source's check; returns what `watch287g check` prints
        about it."""
        verdicts: list[dict] = []
        events: list[dict] = []
        finished_at = check.finished_at or now_iso()
        with self.session() as db:
            for download in check.lists:
                verdict, produced = self._list_verdict(db, check, download)
                verdicts.append({**verdict, "events": len(produced)})
                events.extend(produced)
            if check.page is not None or check.page_not_modified:
                verdict, produced = self._page_verdict(db, check)
                verdicts.append({**verdict, "events": len(produced)})
                events.extend(produced)
            for kept in check.remember:
                db.sources.put(check.source.name, kept["role"], kept)
            record = {
                "source": check.source.name,
                "started_at": check.started_at,
                "finished_at": finished_at,
                "ok": not check.failures,
                "message": "; ".join(check.failures) or _summary(verdicts),
                "notes": check.notes,
                "fetched": [f.record() for f in check.fetched],
                "verdicts": verdicts,
                "event_ids": [event["id"] for event in events if "id" in event],   # none in a dry run
            }
            if not self.dry_run:
                raised = health.record_check(db, record, check.source.failing_after)
                events.extend(self._journal(db, raised, finished_at))
        return {**record, "type": check.source.type, "events": events}

    def _list_verdict(self, db: StateDB, check: SourceCheck, download: ListDownload) -> tuple[dict, list[dict]]:
        source, kind = check.source.name, download.kind
        verdict = {"kind": kind, "verdict": UNCHANGED, "reason": None}
        if download.not_modified:
            result = last_seen(db, source, kind) or IngestResult(UNCHANGED)
            snapshot = None
        else:
            content = download.body if download.format == "xlsx" else html_table.canonical_bytes(download.rows)
            sha256 = sha256_hex(content)
            download.fetch.sha256 = sha256
            verdict["sha256"] = sha256
            # The same bytes as the last list seen need no reading: the verdict stands.
            result, snapshot = repeat_of(db, source, kind, sha256), None
            if result is None:
                snapshot = self._snapshot(source, kind, download, content, sha256)
                result = self.commit_snapshot(db, snapshot)
            db.sources.put(source, kind, {"url": download.provenance["file_url"], "etag": download.fetch.etag,
                                          "last_modified": download.fetch.last_modified})
        verdict.update(verdict=result.verdict, reason=result.reason)
        if snapshot is not None and not result.repeated:
            verdict.update(snapshot_id=result.snapshot_id, file_name=snapshot.file_name,
                           rows=len(snapshot.roster.rows) if snapshot.roster else 0)
        if result.verdict == QUARANTINED:
            check.failures.append(f"{kind} list {'still ' if result.repeated else ''}quarantined: {result.reason}")
        return verdict, list(result.events)

    def _snapshot(self, source: str, kind: str, download: ListDownload, content: bytes, sha256: str) -> Snapshot:
        observed_at = download.fetch.fetched_at
        provenance = {**download.provenance, "sha256": sha256}
        if download.format == "xlsx":
            return snapshot_from_workbook(source, kind, observed_at, download.file_name, content, provenance,
                                          self.settings.crawl.workbook_limits())
        return html_table.snapshot_from_table(source, kind, observed_at, download.rows, provenance)

    def _page_verdict(self, db: StateDB, check: SourceCheck) -> tuple[dict, list[dict]]:
        source = check.source
        verdict = {"kind": "page", "verdict": UNCHANGED, "reason": None}
        if check.page_not_modified:
            return verdict, []
        stored = db.pages.get(source.name)
        reading = {"url": source.url, **check.page.record(), "checked_at": check.finished_at}
        if stored is None:
            db.pages.put(source.name, reading)
            verdict["verdict"] = "baseline"
            return verdict, []
        change = pages.diff(stored, check.page)
        if change is None:
            return verdict, []
        fetch = next(f for f in check.fetched if f.role == "page")
        event = pages.change_event(source.name, source.url, fetch.final_url or source.url, check.finished_at,
                                   check.page.title, change)
        self._journal(db, [event], check.finished_at)
        db.pages.put(source.name, {**reading, "changed_at": check.finished_at})
        verdict.update(verdict="changed", reason=event["summary"])
        return verdict, [event]


def _summary(verdicts: list[dict]) -> str:
    parts = []
    for verdict in verdicts:
        count = verdict["events"]
        events = f" ({count} event{'' if count == 1 else 's'})" if count else ""
        parts.append(f"{verdict['kind']} {verdict['verdict']}{events}")
    return ", ".join(parts) or "nothing to compare"
