"""The item pipeline: hands each finished check to the state layer.

For one ``SourceCheck`` it opens one write session, so the check's snapshots,
events, health record, remembered validators and the deliveries for its
events are a single atomic write:

* each list body is hashed; one equal to the last body seen for that list
  (or a 304 Not Modified) is "unchanged" and writes no snapshot; anything
  else becomes a Snapshot (workbook or HTML table) and goes through
  ``state.ingest`` — including files the reader refuses, which the gate
  quarantines with their reason;
* a watched page's reading is compared with the last one (``page.changed``);
* the check itself is recorded, and ``state.health`` raises source.failing /
  source.recovered once per streak;
* the new events are queued for delivery (``alerts.outbox.enqueue``).

With ``--dry-run`` the same work runs on a copy of the state that is never
written, and nothing is archived or queued.
"""

from __future__ import annotations

import dataclasses

from tinydb import Query
from watch287g.core.records import ListDownload, SourceCheck, sha256_hex, utc_now
from watch287g.readers import html_table, pages
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.state import health
from watch287g.state.ingest import QUARANTINED, UNCHANGED, ingest
from watch287g.state.store import StateDB

_SOURCE = Query()


class StatePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: SourceCheck):
        self._commit(item)
        return item

    def close_spider(self) -> None:
        # A chain can only stop early through a bug or a shutdown: the check
        # is still recorded, as a failure, rather than lost.
        spider = self.crawler.spider
        for check in list(spider.open_checks.values()):
            check.failures.append("the check did not finish")
            check.finished_at = utc_now()
            self._commit(check)
        spider.open_checks.clear()

    def _commit(self, check: SourceCheck) -> None:
        run = self.crawler.spider.run
        try:
            run.results.append(commit_check(run, check))
        except Exception as err:  # noqa: BLE001 - re-raised by watch287g check after the crawl
            run.errors.append(err)


def commit_check(run, check: SourceCheck) -> dict:
    """Record one check; returns what `watch287g check` prints about it."""
    source = check.source.name
    verdicts: list[dict] = []
    events: list[dict] = []
    with run.session() as db:
        for download in check.lists:
            verdict, produced = _list_verdict(db, run, check, download)
            verdicts.append({**verdict, "events": len(produced)})
            events.extend(produced)
        if check.page is not None or check.page_not_modified:
            verdict, produced = _page_verdict(db, check)
            verdicts.append({**verdict, "events": len(produced)})
            events.extend(produced)
        for doc in check.remember:
            _remember(db, source, doc)
        record = {
            "source": source,
            "started_at": check.started_at,
            "finished_at": check.finished_at or utc_now(),
            "ok": not check.failures,
            "message": "; ".join(check.failures) or _summary(verdicts),
            "notes": check.notes,
            "fetched": [f.record() for f in check.fetched],
            "verdicts": verdicts,
        }
        if not run.dry_run:
            events.extend(health.record_check(db, record, check.source.failing_after))
            if events:
                from watch287g.alerts.outbox import enqueue

                enqueue(db, events, run.config, record["finished_at"])
    return {**record, "type": check.source.type, "events": events}


def _list_verdict(db: StateDB, run, check: SourceCheck, download: ListDownload) -> tuple[dict, list[dict]]:
    source, kind = check.source.name, download.kind
    remembered = _remembered(db, source, kind)
    verdict = {"kind": kind, "verdict": UNCHANGED, "reason": None}
    if download.not_modified:
        return _as_before(check, verdict, remembered), []
    content = download.body if download.format == "xlsx" else html_table.canonical_bytes(download.rows)
    sha256 = sha256_hex(content)
    download.fetch.sha256 = sha256
    verdict["sha256"] = sha256
    validators = {"url": download.provenance["file_url"], "etag": download.fetch.etag,
                  "last_modified": download.fetch.last_modified, "sha256": sha256}
    if remembered and remembered.get("sha256") == sha256:
        _remember(db, source, {**remembered, **validators, "role": kind})
        return _as_before(check, verdict, remembered), []

    observed_at = download.fetch.fetched_at
    provenance = {**download.provenance, "sha256": sha256}
    if download.format == "xlsx":
        snapshot = snapshot_from_workbook(source, kind, observed_at, download.file_name, content, provenance,
                                          run.workbook_limits)
    else:
        snapshot = html_table.snapshot_from_table(source, kind, observed_at, download.rows, provenance)
    if run.dry_run:
        snapshot = dataclasses.replace(snapshot, content=None)  # nothing archived
    result = ingest(db, snapshot, run.policy)
    verdict.update(verdict=result.verdict, reason=result.reason, snapshot_id=result.snapshot_id,
                   file_name=snapshot.file_name, rows=len(snapshot.roster.rows) if snapshot.roster else 0)
    if result.verdict == QUARANTINED:
        check.failures.append(f"{kind} list quarantined: {result.reason}")
    _remember(db, source, {**validators, "role": kind, "verdict": result.verdict, "reason": result.reason})
    return verdict, list(result.events)


def _as_before(check: SourceCheck, verdict: dict, remembered: dict | None) -> dict:
    """Same content as last time: unchanged — unless last time's file was
    quarantined, in which case the source is still failing."""
    if remembered and remembered.get("verdict") == QUARANTINED:
        verdict.update(verdict=QUARANTINED, reason=remembered.get("reason"))
        check.failures.append(f"{verdict['kind']} list still quarantined: {remembered.get('reason')}")
    return verdict


def _page_verdict(db: StateDB, check: SourceCheck) -> tuple[dict, list[dict]]:
    source = check.source
    verdict = {"kind": "page", "verdict": UNCHANGED, "reason": None}
    if check.page_not_modified:
        return verdict, []
    table = db.table("pages")
    stored = table.get(_SOURCE.source == source.name)
    reading = {"source": source.name, "url": source.url, **check.page.record(), "checked_at": check.finished_at}
    if stored is None:
        table.insert(reading)
        verdict["verdict"] = "baseline"
        return verdict, []
    change = pages.diff(stored, check.page)
    if change is None:
        return verdict, []
    fetch = next(f for f in check.fetched if f.role == "page")
    event = pages.change_event(source.name, source.url, fetch.final_url or source.url, check.finished_at,
                               check.page.title, change)
    db.append("events", [event], id_field="id")
    table.update({**reading, "changed_at": check.finished_at}, _SOURCE.source == source.name)
    verdict.update(verdict="changed", reason=event["summary"])
    return verdict, [event]


def _remembered(db: StateDB, source: str, role: str) -> dict | None:
    return db.table("sources").get((_SOURCE.source == source) & (_SOURCE.role == role))


def _remember(db: StateDB, source: str, doc: dict) -> None:
    doc = {key: value for key, value in doc.items() if key != "source"}
    db.table("sources").upsert({"source": source, **doc}, (_SOURCE.source == source) & (_SOURCE.role == doc["role"]))


def _summary(verdicts: list[dict]) -> str:
    parts = []
    for verdict in verdicts:
        count = verdict["events"]
        events = f" ({count} event{'' if count == 1 else 's'})" if count else ""
        parts.append(f"{verdict['kind']} {verdict['verdict']}{events}")
    return ", ".join(parts) or "nothing to compare"
