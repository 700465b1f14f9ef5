"""State on disk: one TinyDB file, written whole and atomically, under a lock.

Everything that must agree — current agreements, the event log, snapshot
records, the delivery outbox — lives in one JSON document, so one write
records an event together with its deliveries, and a crash leaves either the
old file or the new one, never a mix:

* writes go to a temporary file that is fsynced, then ``os.replace``d over
  the old one, and the folder is fsynced so the rename itself survives;
  before the replace, the file it replaces is kept as ``state.json.1`` (the
  last good state, for recovery: docs/service.md);
* a ``filelock`` lock file serialises writers across processes; readers need
  no lock, since a file is only ever replaced whole.

A session (``Store.write`` or ``Store.read``) is a ``StateDB``: one small
repository per table (``db.events``, ``db.outbox``, ``db.subscriptions``...).
Callers never see TinyDB or its documents: reads return read-only views,
and every change goes through a repository method, which marks the session
dirty, so a write cannot be forgotten. Raw files are archived by sha256 in
``archive/`` beside the database before any record names them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Iterator, Mapping

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table
from watch287g.core.files import atomic_write_bytes, remove_stale_temp_files

DB_FILE = "state.json"
BACKUP_SUFFIX = ".1"
LOCK_FILE = "state.lock"
ARCHIVE_DIR = "archive"
CHECKS_KEPT_PER_SOURCE = 1000   # a check every 15 minutes: about ten days per source

Doc = Mapping[str, object]


class StoreError(RuntimeError):
    """The state cannot be read or written; str() is a one-line reason."""

    exit_code = 2


class StoreBusy(StoreError):
    """Another process holds the state lock."""

    exit_code = 3


class _MemoryStorage(Storage):
    """TinyDB storage over a dict that the session owns and flushes."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> dict:
        return self.data

    def write(self, data: dict) -> None:
        self.data = data
        self.dirty = True


class _Repository:
    """One table. Subclasses add the operations their callers need; every
    change goes through ``_changed`` (or TinyDB's own write path)."""

    name = ""

    def __init__(self, storage: _MemoryStorage) -> None:
        self._storage = storage

    @property
    def _docs(self) -> dict[str, dict]:
        return self._storage.data.setdefault(self.name, {})

    def _table(self) -> Table:
        # A fresh Table each time: TinyDB caches the next id per Table object,
        # which would go stale beside _insert().
        return Table(self._storage, self.name, cache_size=0)

    def _changed(self) -> None:
        self._storage.dirty = True

    def _insert(self, docs: Iterable[dict], id_field: str | None = None) -> list[int]:
        table = self._docs
        next_id = max(map(int, table), default=0) + 1
        ids = []
        for doc in docs:
            if id_field:
                doc[id_field] = next_id
            table[str(next_id)] = doc
            ids.append(next_id)
            next_id += 1
        if ids:
            self._changed()
        return ids

    def all(self) -> list[Doc]:
        return [MappingProxyType(doc) for doc in self._docs.values()]

    def count(self) -> int:
        return len(self._docs)


class Meta(_Repository):
    """Small named values: list fingerprints, health streaks, flags."""

    name = "meta"

    def get(self, key: str, default=None):
        doc = self._table().get(Query().key == key)
        return default if doc is None else doc["value"]

    def set(self, key: str, value) -> None:
        self._table().upsert({"key": key, "value": value}, Query().key == key)


class Lists(_Repository):
    """The differ's records of one list (agreements or pending applications).

    The differ works on the records themselves; ``editing`` hands them out
    and always records the session as changed when the block ends, and adds
    the records the block appended."""

    def __init__(self, storage: _MemoryStorage, name: str) -> None:
        super().__init__(storage)
        self.name = name

    @contextlib.contextmanager
    def editing(self, source: str) -> Iterator[list[dict]]:
        records = [doc for doc in self._docs.values() if doc["source"] == source]
        known = {id(doc) for doc in records}
        yield records
        self._insert(doc for doc in records if id(doc) not in known)
        self._changed()

    def of_source(self, source: str) -> list[Doc]:
        return [MappingProxyType(doc) for doc in self._docs.values() if doc["source"] == source]


class Snapshots(_Repository):
    """One record per list observed (accepted, baseline or quarantined)."""

    name = "snapshots"

    def add(self, record: dict) -> int:
        return self._insert([record])[0]

    def get(self, snapshot_id: int) -> Doc:
        return MappingProxyType(self._docs[str(snapshot_id)])

    def recorded(self, source: str, kind: str, sha256: str, observed_at: str) -> bool:
        return any(doc["sha256"] == sha256 and doc["observed_at"] == observed_at and doc["kind"] == kind
                   and doc["source"] == source for doc in self._docs.values())

    def quarantined_before(self, source: str, sha256: str) -> bool:
        return any(doc["sha256"] == sha256 and doc["verdict"] == "quarantined" and doc["source"] == source
                   for doc in self._docs.values())

    def by_time(self) -> list[Doc]:
        return sorted(self.all(), key=lambda doc: doc["observed_at"])


class Sources(_Repository):
    """What the last check kept about each source's page and lists:
    address, HTTP validators, sha256 and verdict."""

    name = "sources"

    def get(self, source: str, role: str) -> Doc | None:
        doc = self._table().get((Query().source == source) & (Query().role == role))
        return None if doc is None else MappingProxyType(doc)

    def put(self, source: str, role: str, fields: Mapping) -> None:
        doc = {**{k: v for k, v in fields.items() if k not in ("source", "role")}, "source": source, "role": role}
        self._table().upsert(doc, (Query().source == source) & (Query().role == role))

    def remembered(self) -> dict[tuple[str, str], dict]:
        """{(source, role): a copy of what was kept}."""
        return {(doc["source"], doc["role"]): dict(doc) for doc in self._docs.values()}


class Pages(_Repository):
    """The last reading of each watched page."""

    name = "pages"

    def get(self, source: str) -> Doc | None:
        doc = self._table().get(Query().source == source)
        return None if doc is None else MappingProxyType(doc)

    def put(self, source: str, reading: Mapping) -> None:
        self._table().upsert({**reading, "source": source}, Query().source == source)


class Checks(_Repository):
    """One record per check of a source, the newest few per source kept."""

    name = "checks"

    def latest(self, source: str) -> Doc | None:
        """The source's newest check record, if any."""
        mine = [doc for doc in self._docs.values() if doc["source"] == source]
        return MappingProxyType(max(mine, key=lambda doc: doc["started_at"])) if mine else None

    def add(self, record: dict) -> None:
        self._insert([record])
        ids = [doc_id for doc_id, doc in self._docs.items() if doc["source"] == record["source"]]
        for doc_id in sorted(ids, key=int)[: max(len(ids) - CHECKS_KEPT_PER_SOURCE, 0)]:
            del self._docs[doc_id]


class Events(_Repository):
    """The event log. Each event's id is its position in the log."""

    name = "events"

    def add(self, events: list[dict]) -> list[dict]:
        """Append events in order; each gets its ``id``."""
        self._insert(events, id_field="id")
        return events

    def get(self, event_id: int) -> Doc:
        return MappingProxyType(self._docs[str(event_id)])

    def in_order(self) -> list[Doc]:
        return sorted(self.all(), key=lambda event: event["id"])


class Outbox(_Repository):
    """One delivery record per (event, subscription), keyed ``event:sub``."""

    name = "outbox"

    def keys(self) -> set[str]:
        return {doc["key"] for doc in self._docs.values()}

    def add(self, rows: list[dict]) -> None:
        self._insert(rows)

    def where(self, test: Callable[[Doc], bool]) -> list[Doc]:
        return [MappingProxyType(doc) for doc in self._docs.values() if test(doc)]

    def update(self, test: Callable[[Doc], bool], change: Callable[[Doc], Mapping]) -> int:
        """Apply ``change(row)`` (a mapping of new field values) to every row
        that passes ``test``; returns how many changed."""
        count = 0
        for doc in self._docs.values():
            if test(doc):
                doc.update(change(doc))
                count += 1
        if count:
            self._changed()
        return count


class Subscriptions(_Repository):
    """Subscriptions made from the CLI, Slack or the web (the config file's
    own are settings, not stored). Ids s1, s2... are never reused."""

    name = "subscriptions"
    _NEXT_ID = "subscriptions:next_id"

    def __init__(self, storage: _MemoryStorage, meta: Meta) -> None:
        super().__init__(storage)
        self._meta = meta

    def next_id(self) -> str:
        number = self._meta.get(self._NEXT_ID, 1)
        self._meta.set(self._NEXT_ID, number + 1)
        return f"s{number}"

    def add(self, doc: dict) -> None:
        self._insert([doc])

    def get(self, subscription_id: str) -> Doc | None:
        for doc in self._docs.values():
            if doc["id"] == subscription_id:
                return MappingProxyType(doc)
        return None

    def replace(self, doc: dict) -> None:
        for doc_id, stored in self._docs.items():
            if stored["id"] == doc["id"]:
                self._docs[doc_id] = doc
                self._changed()
                return
        raise KeyError(doc["id"])


class StateDB:
    """One session over the state: a repository per table."""

    def __init__(self, path: Path, data: dict, writable: bool, store: "Store | None" = None) -> None:
        self.path = path
        self._storage = _MemoryStorage(data)
        # TinyDB is the document store behind the repositories.
        self._tinydb = TinyDB(storage=lambda: self._storage)
        self.writable = writable
        self._store = store
        self.meta = Meta(self._storage)
        self.agreements = Lists(self._storage, "agreements")
        self.pending = Lists(self._storage, "pending")
        self.snapshots = Snapshots(self._storage)
        self.sources = Sources(self._storage)
        self.pages = Pages(self._storage)
        self.checks = Checks(self._storage)
        self.events = Events(self._storage)
        self.outbox = Outbox(self._storage)
        self.subscriptions = Subscriptions(self._storage, self.meta)

    def archive(self, sha256: str, content: bytes, suffix: str) -> None:
        if self._store is None:
            raise StoreError("this state view cannot archive files")
        self._store.archive(sha256, content, suffix)

    def flush(self) -> None:
        if not self.writable:
            raise StoreError("this state view is read-only")
        if self._storage.dirty:
            self._store.save(self._storage.data)
            self._storage.dirty = False


class Store:
    """The data directory: database, its backup, lock and archive."""

    def __init__(self, data_dir: Path | str, lock_timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILE
        self.backup_path = self.data_dir / (DB_FILE + BACKUP_SUFFIX)
        self.archive_dir = self.data_dir / ARCHIVE_DIR
        self.lock_timeout = lock_timeout

    def exists(self) -> bool:
        return self.path.exists()

    def check_dir(self) -> None:
        """Refuse a data dir that is a file, in one line."""
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise StoreError(f"the data dir {self.data_dir} is a file, not a folder")

    def check_usable(self) -> None:
        """Refuse a data dir that is a file, or a state file that cannot be
        read, with one line saying what to do."""
        self.check_dir()
        self._load()

    @contextlib.contextmanager
    def write(self, timeout: float | None = None) -> Iterator[StateDB]:
        """A write session. Holds the lock; flushes once on a clean exit; on
        an exception nothing of the session reaches the disk."""
        self._make_dir()
        lock = FileLock(str(self.data_dir / LOCK_FILE))
        try:
            lock.acquire(timeout=self.lock_timeout if timeout is None else timeout)
        except Timeout:
            raise StoreBusy(f"another watch287g process is writing {self.data_dir}; try again shortly") from None
        try:
            # Temp files of writers killed mid-write are ours to remove now.
            remove_stale_temp_files(self.data_dir, DB_FILE)
            view = StateDB(self.path, self._load(), writable=True, store=self)
            yield view
            view.flush()
        finally:
            lock.release()

    def read(self) -> StateDB:
        """The last committed state, without the lock."""
        self.check_dir()
        return StateDB(self.path, self._load(), writable=False)

    def save(self, data: dict) -> None:
        """Replace the state file whole, keeping the one it replaces."""
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if self.path.exists():
            _link_backup(self.path, self.backup_path)
        atomic_write_bytes(self.path, payload)

    def _make_dir(self) -> None:
        self.check_dir()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the data dir {self.data_dir}: {err.strerror}") from None

    def _load(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as err:
            hint = (f"; the previous good state is {self.backup_path} (stop watch287g, then copy it over "
                    f"{self.path.name})") if self.backup_path.exists() else ""
            raise StoreError(f"cannot read {self.path}: {err}{hint}") from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} is not a watch287g state file")
        return data

    def archive(self, sha256: str, content: bytes, suffix: str) -> Path:
        """Keep a raw file by its content hash (write-once, crash-safe)."""
        target = self.archive_path(sha256, suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, content)
        return target

    def archive_path(self, sha256: str, suffix: str) -> Path:
        if not (len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)):
            raise StoreError(f"not a sha256: {sha256!r}")
        return self.archive_dir / sha256[:2] / f"{sha256}{suffix}"


def _link_backup(current: Path, backup: Path) -> None:
    """Make ``backup`` the file ``current`` holds now, atomically: a hard
    link under a temporary name, renamed over the old backup."""
    temporary = backup.with_name(backup.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.link(current, temporary)
    os.replace(temporary, backup)
