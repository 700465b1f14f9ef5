"""Replay archived workbooks, in manifest order, through the live path.

The manifest is a CSV with columns ``observed_at, kind, file`` (more columns
are allowed and ignored); ``file`` is relative to the manifest's folder. The
whole manifest is checked before anything is written, so a bad manifest
leaves the state as it was.

A replay holds the state lock for its whole run and writes the state at
checkpoints (every few seconds) and at the end; if it is killed, the state is
the last checkpoint, and running the same replay again skips the snapshots
already recorded and carries on.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from watch287g.commit import Committer
from watch287g.core.errors import UserError
from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.settings import Settings
from watch287g.state.ingest import IngestResult
from watch287g.state.store import Store

KINDS = ("participating", "pending")


@dataclass(frozen=True)
class ManifestRow:
    line: int
    observed_at: str        # ISO 8601, UTC
    kind: str
    path: Path


def parse_observed_at(text: str, where: str) -> str:
    """ISO 8601; a time without a zone is taken as UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{where}: observed_at {text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def read_manifest(path: Path) -> list[ManifestRow]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"observed_at", "kind", "file"} - set(reader.fieldnames or [])
            if missing:
                raise UserError(f"{path}: not a replay manifest: missing column(s) {', '.join(sorted(missing))}")
            rows = [_manifest_row(path, number, record) for number, record in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise UserError(f"manifest not found: {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a replay manifest: a manifest is a UTF-8 CSV file with columns "
                        "observed_at, kind, file (a workbook goes in its file column)") from None
    except (OSError, csv.Error) as err:
        raise UserError(f"cannot read manifest {path}: {err}") from None
    if not rows:
        raise UserError(f"{path}: the manifest lists no files")
    return rows


def _manifest_row(manifest: Path, number: int, record: dict) -> ManifestRow:
    where = f"{manifest}:{number}"
    kind = (record.get("kind") or "").strip()
    if kind not in KINDS:
        raise UserError(f"{where}: kind must be participating or pending, not {kind!r}")
    name = (record.get("file") or "").strip()
    if not name:
        raise UserError(f"{where}: empty file column")
    file_path = (manifest.parent / name)
    if not file_path.is_file():
        raise UserError(f"{where}: file not found: {file_path}")
    return ManifestRow(number, parse_observed_at(record.get("observed_at") or "", where), kind, file_path)


@dataclass
class ReplayStep:
    index: int
    total: int
    row: ManifestRow
    result: IngestResult


def replay(committer: Committer, rows: list[ManifestRow], source: str = "ice",
           checkpoint_seconds: float = 5.0) -> Iterator[ReplayStep]:
    """Commit each manifest row in order, as a live check would (without
    deliveries); yields after each one."""
    limits = committer.settings.crawl.workbook_limits()
    with committer.store.write() as db:
        last_flush = time.monotonic()
        for index, row in enumerate(rows, start=1):
            content = _read_file(row, limits.max_file_bytes)
            snapshot = snapshot_from_workbook(source, row.kind, row.observed_at, row.path.name, content,
                                              provenance={"replayed_from": str(row.path)}, limits=limits)
            result = committer.commit_snapshot(db, snapshot)
            del content, snapshot   # the next list is read without this one's rows and bytes alive
            yield ReplayStep(index, len(rows), row, result)
            if time.monotonic() - last_flush >= checkpoint_seconds:
                db.flush()
                last_flush = time.monotonic()


def _read_file(row: ManifestRow, limit: int) -> bytes:
    # One byte past the limit is enough for the reader to refuse an oversized
    # file, which the gate then records like a live check would.
    try:
        with row.path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as err:
        raise UserError(f"cannot read {row.path}: {err}") from None


def run_replay(settings: Settings, store: Store, manifest: Path, source: str,
               on_step: Callable[[ReplayStep], None]) -> dict:
    """Replay a manifest; returns the summary the command prints."""
    rows = read_manifest(manifest)
    store.check_usable()
    started = time.perf_counter()
    verdicts: dict[str, int] = {}
    events: dict[str, int] = {}
    quarantined = []
    for step in replay(Committer(settings, store, notify=False), rows, source):
        verdicts[step.result.verdict] = verdicts.get(step.result.verdict, 0) + 1
        for event in step.result.events:
            events[event["type"]] = events.get(event["type"], 0) + 1
        if step.result.verdict == "quarantined":
            quarantined.append({"file": str(step.row.path.name), "observed_at": step.row.observed_at,
                                "reason": step.result.reason})
        on_step(step)
    return {"snapshots": len(rows), "verdicts": verdicts, "events": events, "quarantined": quarantined,
            "seconds": round(time.perf_counter() - started, 2), "data_dir": str(store.data_dir)}
