"""State on disk: one TinyDB file, written whole and atomically, under a lock.

Everything that must agree — current agreements, the event log, snapshot
records, the delivery outbox — lives in one JSON document, so one write
records an event together with its deliveries, and a crash leaves either the
old file or the new one, never a mix:

* writes go to a temporary file that is fsynced, then ``os.replace``d over
  the old one, and the folder is fsynced so the rename itself survives;
* a ``filelock`` lock file serialises writers across processes; readers need
  no lock, since a file is only ever replaced whole.

TinyDB serves the tables in memory while a write session is open
(``Store.write``); the session flushes once when it ends, or at the
checkpoints a long replay asks for. Raw workbooks are archived by sha256 in
``archive/`` beside the database before any record names them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

DB_FILE = "state.json"
LOCK_FILE = "state.lock"
ARCHIVE_DIR = "archive"

TABLES = ("meta", "agreements", "pending", "events", "snapshots", "checks", "sources", "pages",
          "subscriptions", "outbox", "notices")


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


class StateDB:
    """An open view of the state: ``db.table(name)`` is a TinyDB table."""

    def __init__(self, path: Path, data: dict, writable: bool, store: "Store | None" = None) -> None:
        self.path = path
        self._storage = _MemoryStorage(data)
        self.db = TinyDB(storage=lambda: self._storage)
        self.writable = writable
        self._store = store

    def table(self, name: str) -> Table:
        """A TinyDB table. A fresh Table object each time: TinyDB caches the
        next doc id per Table object, which would go stale beside append()."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}")
        return Table(self.db.storage, name, cache_size=0)

    def append(self, name: str, docs: list[dict], id_field: str | None = None) -> list[int]:
        """Insert documents in order; returns their doc ids. With id_field,
        each document also carries its id (events are cited by it)."""
        table = self.raw_table(name)
        next_id = max(map(int, table), default=0) + 1
        ids = []
        for offset, doc in enumerate(docs):
            doc_id = next_id + offset
            if id_field:
                doc[id_field] = doc_id
            table[str(doc_id)] = doc
            ids.append(doc_id)
        if docs:
            self.mark_dirty()
        return ids

    def archive(self, sha256: str, content: bytes) -> None:
        if self._store is None:
            raise StoreError("this state view cannot archive files")
        self._store.archive(sha256, content)

    def get_meta(self, key: str, default=None):
        doc = self.table("meta").get(Query().key == key)
        return default if doc is None else doc["value"]

    def set_meta(self, key: str, value) -> None:
        self.table("meta").upsert({"key": key, "value": value}, Query().key == key)

    def mark_dirty(self) -> None:
        """For callers that changed documents in place through ``raw_table``."""
        self._storage.dirty = True

    def raw_table(self, name: str) -> dict:
        """The table's documents as TinyDB keeps them: {doc_id string: dict}.
        For bulk reads and replacements on hot paths; call mark_dirty after."""
        return self._storage.data.setdefault(name, {})

    def flush(self) -> None:
        if not self.writable:
            raise StoreError("this state view is read-only")
        if self._storage.dirty:
            _atomic_write_json(self.path, self._storage.data)
            self._storage.dirty = False


class Store:
    """The data directory: database, lock and archive."""

    def __init__(self, data_dir: Path | str, lock_timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILE
        self.archive_dir = self.data_dir / ARCHIVE_DIR
        self.lock_timeout = lock_timeout

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def write(self, timeout: float | None = None) -> Iterator[StateDB]:
        """A write session. Holds the lock; flushes once on a clean exit; on
        an exception nothing of the session reaches the disk."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.data_dir / LOCK_FILE))
        try:
            lock.acquire(timeout=self.lock_timeout if timeout is None else timeout)
        except Timeout:
            raise StoreBusy(f"another watch287g process is writing {self.data_dir}; try again shortly") from None
        try:
            view = StateDB(self.path, self._load(), writable=True, store=self)
            yield view
            view.flush()
        finally:
            lock.release()

    def read(self) -> StateDB:
        """The last committed state, without the lock."""
        return StateDB(self.path, self._load(), writable=False)

    def _load(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as err:
            raise StoreError(f"cannot read {self.path}: {err}") from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} is not a watch287g state file")
        return data

    def archive(self, sha256: str, content: bytes, suffix: str = ".xlsx") -> Path:
        """Keep a raw file by its content hash (write-once, crash-safe)."""
        target = self.archive_path(sha256, suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_bytes(target, content)
        return target

    def archive_path(self, sha256: str, suffix: str = ".xlsx") -> Path:
        if not (len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)):
            raise StoreError(f"not a sha256: {sha256!r}")
        return self.archive_dir / sha256[:2] / f"{sha256}{suffix}"


def _atomic_write_json(path: Path, data: dict) -> None:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    _atomic_write_bytes(path, payload)


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse O_RDONLY fsync on dirs
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
