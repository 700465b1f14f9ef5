"""State on disk: a generation file naming immutable parts, replaced
atomically under a lock, so no operation pays for more history than it reads.

Everything that must agree — current agreements, the event log, snapshot
records, the delivery outbox — is committed together, so one write records an
event together with its deliveries, and a crash leaves either the old state
or the new one, never a mix. On disk:

* ``state.json``, the generation: the small tables themselves (meta,
  sources, pages, subscriptions) and, for every other table, the names of
  the part files that hold it (``parts/``) with a few facts about each;
* ``parts/TABLE-HASH.json``: one JSON object of documents each, named by a
  hash of its bytes and never changed once written. The current lists
  (agreements, pending) are one part each, in columns
  (state/list_layout.py). The history tables — events,
  snapshot records, check records and settled outbox rows — are sealed
  segments of a bounded number of documents plus an open tail; a segment
  is only read when something asks for a document in it, and the facts kept
  beside it (id range, observed-at range, quarantined files, newest
  accepted list, outbox statuses and event range, checks per source) answer
  the questions a check and a delivery pass ask without reading it.

A commit makes the files archived in the session durable, then writes and
fsyncs the new parts (each streamed to disk in chunks: see
``_encode_in_chunks``), then replaces ``state.json`` (the
generation pointer) last: a crash before that leaves the
old generation, whose parts are all still there; after it, the new one.
Before the replace, the file it replaces is kept as ``state.json.1`` (the
last good state, for recovery: docs/service.md); its parts are kept too. A
part that neither names is garbage: it is removed ``GARBAGE_GRACE_SECONDS``
after it was first found unnamed, so a reader still working on an older
generation has time to finish. A ``filelock`` lock file serialises writers
across processes; readers need no lock, since nothing they read is ever
changed in place.

A session (``Store.write`` or ``Store.read``) is a ``StateDB``: one small
repository per table (``db.events``, ``db.outbox``, ``db.subscriptions``...).
Callers never see TinyDB, files or documents' storage: reads return
read-only views, and every change goes through a repository method, which
marks the session dirty, so a write cannot be forgotten. Raw files are
archived by sha256 in ``archive/`` beside the database, durable before any
committed record names them.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import operator
import os
import time
from collections import Counter
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Iterator, Mapping

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.storages import Storage
from tinydb.table import Table
from watch287g.core.files import (atomic_write_bytes, remove_stale_temp_files, sync_file, sync_folder,
                                  write_named_by_content)
from watch287g.core.timeutil import parse_iso
from watch287g.state import list_layout

DB_FILE = "state.json"
BACKUP_SUFFIX = ".1"
LOCK_FILE = "state.lock"
ARCHIVE_DIR = "archive"
PARTS_DIR = "parts"
# 1: every table inside state.json; 2: tables in parts, list records one JSON
# object each; 3: list parts in columns (state/list_layout.py), large meta
# values in parts. Older formats are read as they are and rewritten whole as
# 3 by the next write.
FORMAT = 3
CHECKS_KEPT_PER_SOURCE = 1000   # a check every 15 minutes: about ten days per source
GARBAGE_GRACE_SECONDS = 600
SETTLED_STATUSES = frozenset({"sent", "cancelled"})   # outbox rows that will not change again
_PARTS_KEY, _FORMAT_KEY, _GARBAGE_KEY = "_parts", "_format", "_garbage"

Doc = Mapping[str, object]
Writer = Callable[[str, Iterable[bytes]], str]     # (table, encoded documents) -> the part file that holds them
Decoder = Callable[[dict], dict]                    # a part file's JSON -> its documents by id


class StoreError(RuntimeError):
    """The state cannot be read or written; str() is a one-line reason."""

    exit_code = 2


class StoreBusy(StoreError):
    """Another process holds the state lock."""

    exit_code = 3


class _MemoryStorage(Storage):
    """TinyDB storage over the generation dict, which the session owns and flushes."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> dict:
        return self.data

    def write(self, data: dict) -> None:
        self.data = data
        self.dirty = True


class _Parts:
    """Reads a store's part files; each is checked against the hash in its name."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    def load(self, name: str, decode: Decoder | None = None) -> dict:
        path = self.store.parts_dir / name
        try:
            payload = path.read_bytes()
            if _part_name(name.rsplit("-", 1)[0], payload) != name:
                raise ValueError("its content does not match its name")
            docs = json.loads(payload)
            del payload     # a 100,000-record part's bytes need not outlive its parse
            if not isinstance(docs, dict):
                raise ValueError("it is not a watch287g state part")
            return decode(docs) if decode else docs
        except (OSError, ValueError) as err:    # list_layout.LayoutError is a ValueError
            raise StoreError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}"
                             f"{self.store.restore_hint()}") from None


def _part_name(table: str, payload: bytes) -> str:
    return _part_file(table, hashlib.sha256(payload).hexdigest())


def _part_file(table: str, sha256_hex: str) -> str:
    return f"{table}-{sha256_hex[:24]}.json"


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_DOCS_PER_CHUNK = 1000


def _encode_in_chunks(docs: dict) -> Iterator[bytes]:
    """The bytes of ``_dumps(docs)``, a thousand documents at a time: a list
    of 100,000 agreements is about 100 MB of JSON, which need never be in
    memory whole (twice: as text and as bytes) beside the documents."""
    if not docs:
        yield b"{}"
        return
    items = iter(docs.items())
    separator = b"{"
    while chunk := dict(itertools.islice(items, _DOCS_PER_CHUNK)):
        yield separator + _dumps(chunk)[1:-1]
        separator = b","
    yield b"}"


class _Part:
    """One part file's documents ({id: document}), read on first use.
    ``encode`` and ``decode`` are its form on disk (default: the documents
    object itself)."""

    def __init__(self, parts: _Parts, entry: Mapping | None, docs: dict | None = None,
                 summary: dict | None = None, encode: Callable[[dict], Iterable[bytes]] = _encode_in_chunks,
                 decode: Decoder | None = None) -> None:
        self._parts = parts
        self._encode, self._decode = encode, decode
        self.file: str | None = entry["file"] if entry else None
        self._count: int = entry["count"] if entry else 0
        self.summary: dict = summary if summary is not None else dict(entry.get("summary") or {}) if entry else {}
        self._docs = docs
        self.dirty = docs is not None

    @property
    def loaded(self) -> bool:
        return self._docs is not None

    def docs(self) -> dict[str, dict]:
        if self._docs is None:
            self._docs = self._parts.load(self.file, self._decode) if self.file else {}
        return self._docs

    def count(self) -> int:
        return len(self._docs) if self._docs is not None else self._count

    def changed(self) -> None:
        self.docs()
        self.dirty = True

    def persist(self, table: str, write: Writer, summary: dict | None = None) -> dict:
        if self.dirty:
            self.file, self._count = write(table, self._encode(self._docs)), len(self._docs)
            if summary is not None:
                self.summary = summary
            self.dirty = False
        entry = {"file": self.file, "count": self._count}
        if self.summary:
            entry["summary"] = self.summary
        return entry


_SOURCE = operator.itemgetter("source")


class _Repository:
    """One table kept inside the generation file. Subclasses add the
    operations their callers need; every change goes through ``_changed``
    (or TinyDB's own write path)."""

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
        docs = list(docs)
        if not docs:
            return []  # most lists add no record: no walk over every id for the next one
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


class _PartRepository(_Repository):
    """A table kept in part files, named in the generation's manifest. A
    state written in format 1 kept the table inline: it is read from there
    and moves to parts at the next write."""

    def __init__(self, storage: _MemoryStorage, parts: _Parts, name: str | None = None) -> None:
        super().__init__(storage)
        if name:
            self.name = name
        self._parts = parts
        entry = storage.data.get(_PARTS_KEY, {}).get(self.name)
        self._inline = storage.data.pop(self.name, None) if entry is None else None
        self._load_entry(entry)

    def _load_entry(self, entry: Mapping | None) -> None:
        raise NotImplementedError

    def persist(self, write: Writer) -> dict:
        """The manifest entry after writing what changed."""
        raise NotImplementedError


class Meta(_Repository):
    """Named values: list fingerprints, health streaks, flags. Most are small
    and live in ``state.json``; a value whose JSON is larger than
    ``LARGE_VALUE_BYTES`` (the last good list's keys: 5.6 MB at 100,000
    agreements) is written to a part of its own when it changes, named in
    the manifest and read only when asked for, so a session that does not
    need it neither reads nor rewrites it."""

    name = "meta"
    LARGE_VALUE_BYTES = 64 * 1024

    def __init__(self, storage: _MemoryStorage, parts: _Parts) -> None:
        super().__init__(storage)
        self._parts = parts
        self._files: dict[str, str] = dict(storage.data.get(_PARTS_KEY, {}).get(self.name, {}).get("values", {}))
        self._large: dict[str, object] = {}     # large values read or written in this session
        self._set_since_commit: set[str] = set()

    def get(self, key: str, default=None):
        doc = self._table().get(Query().key == key)
        if doc is not None:
            return doc["value"]
        if key in self._files and key not in self._large:
            self._large[key] = self._parts.load(self._files[key])["value"]
        return self._large.get(key, default)

    def set(self, key: str, value) -> None:
        self._table().upsert({"key": key, "value": value}, Query().key == key)
        self._set_since_commit.add(key)

    def persist(self, write: Writer) -> dict:
        """The manifest entry, after moving the large values set since the
        last commit out of the generation into parts of their own."""
        for key in sorted(self._set_since_commit):
            doc_id, doc = next((i, d) for i, d in self._docs.items() if d["key"] == key)
            payload = _dumps({"value": doc["value"]})
            if len(payload) > self.LARGE_VALUE_BYTES:
                self._files[key], self._large[key] = write(self.name, [payload]), doc["value"]
                del self._docs[doc_id]
            else:
                self._files.pop(key, None)
                self._large.pop(key, None)
        self._set_since_commit.clear()
        return {"values": dict(self._files)}


class Lists(_PartRepository):
    """The differ's records of one list (agreements or pending applications),
    one part, read when first used.

    The differ works on the records themselves; ``editing`` hands them out
    and always records the session as changed when the block ends, and adds
    the records the block appended."""

    def _load_entry(self, entry: Mapping | None) -> None:
        inline = list_layout.upgrade(self._inline) if self._inline is not None else None
        self._part = _Part(self._parts, entry, docs=inline, encode=list_layout.encode, decode=list_layout.decode)
        # The records of the source edited last, for as long as they are
        # the table's (see _of_source).
        self._by_source: tuple[dict | None, int, dict[str, list[dict]]] = (None, 0, {})

    def upgrade(self) -> None:
        """Read the part now and mark it changed, so the next write rewrites
        it in the current form."""
        self._changed()

    @property
    def _docs(self) -> dict[str, dict]:
        return self._part.docs()

    def _changed(self) -> None:
        self._part.changed()
        super()._changed()

    @contextlib.contextmanager
    def editing(self, source: str) -> Iterator[list[dict]]:
        records = self._of_source(source)[:]
        known = len(records)
        yield records
        self._insert(records[known:])   # the block only appends (see the class)
        self._changed()
        self._by_source = (self._docs, len(self._docs), {source: records})

    def _of_source(self, source: str) -> list[dict]:
        # Every list's commit edits a source's records, and picking them out
        # of the whole table touches every record (cache misses): the last
        # edit's are kept while the table is the same dict of the same size
        # (records are only ever appended, through editing).
        docs = self._docs
        cached_docs, cached_count, by_source = self._by_source
        if cached_docs is docs and cached_count == len(docs) and source in by_source:
            return by_source[source]
        values = list(docs.values())
        return list(itertools.compress(values, map(source.__eq__, map(_SOURCE, values))))

    def of_source(self, source: str) -> list[Doc]:
        return [MappingProxyType(doc) for doc in self._docs.values() if doc["source"] == source]

    def count(self) -> int:
        return self._part.count()

    def persist(self, write: Writer) -> dict:
        return self._part.persist(self.name, write)


class _History(_PartRepository):
    """An append-mostly table: sealed segments of ``SEAL_AT`` documents and
    an open tail. Documents get increasing ids; a segment is read only when
    a document in it is asked for, or the whole table is."""

    SEAL_AT = 200

    def _load_entry(self, entry: Mapping | None) -> None:
        entry = entry or {}
        self._segments = [_Part(self._parts, segment) for segment in entry.get("segments", [])]
        self._tail = _Part(self._parts, entry.get("tail"), docs=self._inline)
        inline_next = max(map(int, self._inline), default=0) + 1 if self._inline else 1
        self._next_id: int = entry.get("next_id", inline_next)

    # -- what subclasses decide --------------------------------------------------

    def sealable(self, doc: dict) -> bool:
        """Whether a document may leave the tail for a sealed segment."""
        return True

    def summarize(self, docs: dict[str, dict]) -> dict:
        """Facts about a segment kept in the manifest (answers without reading it)."""
        ids = [int(doc_id) for doc_id in docs]
        return {"first_id": min(ids), "last_id": max(ids)}

    # -- reading ------------------------------------------------------------------

    def _parts_in_order(self) -> list[_Part]:
        return [*self._segments, self._tail]

    def _items(self) -> Iterator[tuple[_Part, str, dict]]:
        """Every (part, id, document), by id: reads the whole table."""
        found = [(int(doc_id), part, doc_id, doc) for part in self._parts_in_order()
                 for doc_id, doc in part.docs().items()]
        for _, part, doc_id, doc in sorted(found, key=lambda item: item[0]):
            yield part, doc_id, doc

    def all(self) -> list[Doc]:
        return [MappingProxyType(doc) for _, _, doc in self._items()]

    def count(self) -> int:
        return sum(part.count() for part in self._parts_in_order())

    def _get(self, doc_id: int) -> Doc:
        key = str(doc_id)
        if key in self._tail.docs():
            return MappingProxyType(self._tail.docs()[key])
        for segment in self._segments:
            if segment.summary.get("first_id", 0) <= doc_id <= segment.summary.get("last_id", -1) \
                    and key in segment.docs():
                return MappingProxyType(segment.docs()[key])
        raise KeyError(doc_id)

    # -- writing ------------------------------------------------------------------

    def _insert(self, docs: Iterable[dict], id_field: str | None = None) -> list[int]:
        tail, ids = self._tail.docs(), []
        for doc in docs:
            if id_field:
                doc[id_field] = self._next_id
            tail[str(self._next_id)] = doc
            ids.append(self._next_id)
            self._next_id += 1
        if ids:
            self._tail.changed()
            self._changed()
        return ids

    def persist(self, write: Writer) -> dict:
        if self._tail.dirty:
            self._seal()
        segments = [segment.persist(self.name, write, self.summarize(segment.docs()) if segment.dirty else None)
                    for segment in self._segments]
        return {"segments": segments, "tail": self._tail.persist(self.name, write), "next_id": self._next_id}

    def _seal(self) -> None:
        tail = self._tail.docs()
        ready = sorted((int(doc_id) for doc_id, doc in tail.items() if self.sealable(doc)))
        while len(ready) >= self.SEAL_AT:
            chunk, ready = ready[:self.SEAL_AT], ready[self.SEAL_AT:]
            docs = {str(doc_id): tail.pop(str(doc_id)) for doc_id in chunk}
            self._segments.append(_Part(self._parts, None, docs=docs, summary=self.summarize(docs)))


class Snapshots(_History):
    """One record per list observed (accepted, baseline or quarantined)."""

    name = "snapshots"
    SEAL_AT = 100

    def summarize(self, docs: dict[str, dict]) -> dict:
        times = sorted((doc["observed_at"] for doc in docs.values()), key=parse_iso)
        newest: dict[str, dict[str, str]] = {}
        for doc in docs.values():
            key, by_list = f"{doc['source']}\t{doc['kind']}", newest.setdefault(doc["verdict"], {})
            if key not in by_list or parse_iso(doc["observed_at"]) > parse_iso(by_list[key]):
                by_list[key] = doc["observed_at"]
        return {**super().summarize(docs), "min_observed_at": times[0], "max_observed_at": times[-1],
                "quarantined": sorted({(doc["source"], doc["sha256"]) for doc in docs.values()
                                       if doc["verdict"] == "quarantined"}),
                "newest": newest}

    def add(self, record: dict) -> int:
        return self._insert([record])[0]

    def get(self, snapshot_id: int) -> Doc:
        return self._get(snapshot_id)

    def recorded(self, source: str, kind: str, sha256: str, observed_at: str) -> bool:
        moment = parse_iso(observed_at)
        parts = [self._tail] + [s for s in self._segments
                                if parse_iso(s.summary["min_observed_at"]) <= moment
                                <= parse_iso(s.summary["max_observed_at"])]
        return any(doc["sha256"] == sha256 and doc["observed_at"] == observed_at and doc["kind"] == kind
                   and doc["source"] == source for part in parts for doc in part.docs().values())

    def quarantined_before(self, source: str, sha256: str) -> bool:
        if any([source, sha256] in [list(pair) for pair in s.summary["quarantined"]] for s in self._segments):
            return True
        return any(doc["sha256"] == sha256 and doc["verdict"] == "quarantined" and doc["source"] == source
                   for doc in self._tail.docs().values())

    def newest_observed(self, verdicts: Iterable[str]) -> dict[tuple[str, str], str]:
        """{(source, kind): observed_at of its newest record with one of ``verdicts``},
        from the segments' facts and the tail."""
        wanted, newest = set(verdicts), {}
        found = [(key, at) for s in self._segments for verdict, lists in s.summary["newest"].items()
                 if verdict in wanted for key, at in lists.items()]
        found += [(f"{doc['source']}\t{doc['kind']}", doc["observed_at"]) for doc in self._tail.docs().values()
                  if doc["verdict"] in wanted]
        for key, observed_at in found:
            source, kind = key.split("\t")
            if (source, kind) not in newest or parse_iso(observed_at) > parse_iso(newest[(source, kind)]):
                newest[(source, kind)] = observed_at
        return newest

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


class Checks(_History):
    """One record per check of a source; the newest CHECKS_KEPT_PER_SOURCE
    of each source are kept. A sealed segment is dropped once every source
    in it has that many newer records, so a few more may be on disk: what
    the repository hands out is exactly the newest of each source."""

    name = "checks"
    SEAL_AT = 100

    def summarize(self, docs: dict[str, dict]) -> dict:
        return {**super().summarize(docs), "sources": dict(Counter(doc["source"] for doc in docs.values()))}

    def latest(self, source: str) -> Doc | None:
        """The source's newest check record, if any: from the tail, or the
        newest segment that holds the source's checks."""
        for part in [self._tail, *reversed(self._segments)]:
            if part is self._tail or source in part.summary["sources"]:
                mine = [(doc["started_at"], int(doc_id), doc) for doc_id, doc in part.docs().items()
                        if doc["source"] == source]
                if mine:
                    # Times are to the second: of two checks started in the same one, the later recorded.
                    return MappingProxyType(max(mine, key=lambda item: item[:2])[2])
        return None

    def add(self, record: dict) -> None:
        self._insert([record])

    def all(self) -> list[Doc]:
        docs = super().all()
        seen: Counter = Counter()
        kept = []
        for doc in reversed(docs):
            seen[doc["source"]] += 1
            if seen[doc["source"]] <= CHECKS_KEPT_PER_SOURCE:
                kept.append(doc)
        return kept[::-1]

    def count(self) -> int:
        per_source = Counter(doc["source"] for doc in self._tail.docs().values())
        for segment in self._segments:
            per_source.update(segment.summary["sources"])
        return sum(min(count, CHECKS_KEPT_PER_SOURCE) for count in per_source.values())

    def persist(self, write: Writer) -> dict:
        if self._tail.dirty:
            self._seal()
            self._drop_expired()
        return super().persist(write)

    def _drop_expired(self) -> None:
        newer = Counter(doc["source"] for doc in self._tail.docs().values())
        kept = []
        for segment in reversed(self._segments):
            counts = segment.summary["sources"]
            if not all(newer[source] >= CHECKS_KEPT_PER_SOURCE for source in counts):
                kept.append(segment)
            newer.update(counts)
        self._segments = kept[::-1]


class Events(_History):
    """The event log. Each event's id is its position in the log."""

    name = "events"
    SEAL_AT = 250

    def add(self, events: list[dict]) -> list[dict]:
        """Append events in order; each gets its ``id``."""
        self._insert(events, id_field="id")
        return events

    def get(self, event_id: int) -> Doc:
        return self._get(event_id)

    def in_order(self) -> list[Doc]:
        return self.all()


class Outbox(_History):
    """One delivery record per (event, subscription), keyed ``event:sub``.

    Rows still to be delivered (pending, sending) are always in the tail;
    settled rows (sent, cancelled: ``SETTLED_STATUSES``) are sealed into
    history. ``waiting`` and ``update_waiting`` touch only the tail: what a
    delivery pass needs. ``where``, ``update`` and ``all`` see every row."""

    name = "outbox"
    SEAL_AT = 500

    def sealable(self, doc: dict) -> bool:
        return doc["status"] in SETTLED_STATUSES

    def summarize(self, docs: dict[str, dict]) -> dict:
        event_ids = [doc["event_id"] for doc in docs.values()]
        return {**super().summarize(docs), "first_event": min(event_ids), "last_event": max(event_ids),
                "statuses": dict(Counter(doc["status"] for doc in docs.values()))}

    def keys(self) -> set[str]:
        return {doc["key"] for _, _, doc in self._items()}

    def keys_for(self, event_ids: Iterable[int]) -> set[str]:
        """The keys of the rows of these events (only segments that may hold them are read)."""
        wanted = set(event_ids)
        if not wanted:
            return set()
        low, high = min(wanted), max(wanted)
        parts = [self._tail] + [s for s in self._segments
                                if s.summary["first_event"] <= high and low <= s.summary["last_event"]]
        return {doc["key"] for part in parts for doc in part.docs().values() if doc["event_id"] in wanted}

    def add(self, rows: list[dict]) -> None:
        self._insert(rows)

    def where(self, test: Callable[[Doc], bool]) -> list[Doc]:
        return [MappingProxyType(doc) for _, _, doc in self._items() if test(doc)]

    def waiting(self, test: Callable[[Doc], bool] = lambda row: True) -> list[Doc]:
        """Rows not settled yet that pass ``test``."""
        return [MappingProxyType(doc) for doc in self._tail.docs().values()
                if not self.sealable(doc) and test(doc)]

    def totals(self) -> dict[str, int]:
        """How many rows have each status."""
        totals = Counter(doc["status"] for doc in self._tail.docs().values())
        for segment in self._segments:
            totals.update(segment.summary["statuses"])
        return dict(totals)

    def update(self, test: Callable[[Doc], bool], change: Callable[[Doc], Mapping]) -> int:
        """Apply ``change(row)`` (a mapping of new field values) to every row
        that passes ``test``; returns how many changed. A settled row that is
        no longer settled goes back to the tail."""
        count = 0
        for part, doc_id, doc in list(self._items()):
            if test(doc):
                doc.update(change(doc))
                part.changed()
                if part is not self._tail and not self.sealable(doc):
                    self._tail.docs()[doc_id] = part.docs().pop(doc_id)
                    self._tail.changed()
                count += 1
        self._forget_empty_segments()
        if count:
            self._changed()
        return count

    def update_waiting(self, test: Callable[[Doc], bool], change: Callable[[Doc], Mapping]) -> int:
        """``update`` over the rows not settled yet."""
        count = 0
        for doc in self._tail.docs().values():
            if not self.sealable(doc) and test(doc):
                doc.update(change(doc))
                count += 1
        if count:
            self._tail.changed()
            self._changed()
        return count

    def _forget_empty_segments(self) -> None:
        self._segments = [s for s in self._segments if not s.loaded or s.docs()]


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

    def __init__(self, store: "Store", data: dict, writable: bool, can_archive: bool = False) -> None:
        self.path = store.path
        self._store = store
        self._storage = _MemoryStorage(data)
        self.on_disk = {k: data[k] for k in (_PARTS_KEY, _GARBAGE_KEY) if k in data}   # what the file names now
        # TinyDB is the document store behind the small tables.
        self._tinydb = TinyDB(storage=lambda: self._storage)
        self.writable = writable
        self._can_archive = can_archive
        self.archived: set[Path] = set()    # files archived since the last commit, not yet durable
        parts = _Parts(store)
        self.meta = Meta(self._storage, parts)
        self.agreements = Lists(self._storage, parts, "agreements")
        self.pending = Lists(self._storage, parts, "pending")
        self.snapshots = Snapshots(self._storage, parts)
        self.sources = Sources(self._storage)
        self.pages = Pages(self._storage)
        self.checks = Checks(self._storage, parts)
        self.events = Events(self._storage, parts)
        self.outbox = Outbox(self._storage, parts)
        self.subscriptions = Subscriptions(self._storage, self.meta)
        if writable and data and data.get(_FORMAT_KEY, 1) < FORMAT:
            # An older state moves to the current form whole, in the session's
            # one commit: its generation stays the backup, with all its parts.
            for lists in (self.agreements, self.pending):
                lists.upgrade()
            self._storage.dirty = True

    def _in_parts(self) -> list[_PartRepository]:
        return [self.agreements, self.pending, self.snapshots, self.checks, self.events, self.outbox]

    def archive(self, sha256: str, content: bytes, suffix: str) -> None:
        """Keep a raw file in the archive. It is made durable by the commit,
        before the state that cites it: one fsync per file and per folder at
        each commit, not a file and a folder per list as it is archived."""
        if not self._can_archive:
            raise StoreError("this state view cannot archive files")
        self.archived.add(self._store.archive(sha256, content, suffix, durable=False))

    def flush(self) -> None:
        if not self.writable:
            raise StoreError("this state view is read-only")
        if self._storage.dirty:
            self._store.commit(self)
            self._storage.dirty = False


class Store:
    """The data directory: generation file, its backup, parts, lock and archive."""

    def __init__(self, data_dir: Path | str, lock_timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILE
        self.backup_path = self.data_dir / (DB_FILE + BACKUP_SUFFIX)
        self.parts_dir = self.data_dir / PARTS_DIR
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
            if self.parts_dir.is_dir():
                remove_stale_temp_files(self.parts_dir, "*")
            view = StateDB(self, self._load(), writable=True, can_archive=True)
            yield view
            view.flush()
        finally:
            lock.release()

    def read(self) -> StateDB:
        """The last committed state, without the lock."""
        self.check_dir()
        return StateDB(self, self._load(), writable=False)

    def commit(self, view: StateDB) -> None:
        """Write the parts that changed, then the generation naming them
        (keeping the one it replaces), then remove long-unnamed parts."""
        self.make_durable(view.archived)        # the archive before any state that cites it
        view.archived.clear()
        written: list[str] = []

        def write(table: str, chunks: Iterable[bytes]) -> str:
            name = write_named_by_content(self.parts_dir, chunks, lambda sha256_hex: _part_file(table, sha256_hex))
            written.append(name)
            return name

        with _collector_paused():
            manifest = {repo.name: repo.persist(write) for repo in [*view._in_parts(), view.meta]}
        generation = {name: docs for name, docs in view._storage.data.items()
                      if name not in (_PARTS_KEY, _FORMAT_KEY, _GARBAGE_KEY)}
        generation.update({_FORMAT_KEY: FORMAT, _PARTS_KEY: manifest})
        if written:
            sync_folder(self.parts_dir)     # every part's name is durable before the generation names it
        expired = self._collect_garbage(generation, view.on_disk)
        self._save(generation)
        view.on_disk = {_PARTS_KEY: manifest, _GARBAGE_KEY: generation[_GARBAGE_KEY]}
        for name in expired:
            with contextlib.suppress(FileNotFoundError):
                (self.parts_dir / name).unlink()

    def _collect_garbage(self, generation: dict, on_disk: dict) -> list[str]:
        """Note in ``generation`` the parts that neither it nor the generation
        it replaces (the backup-to-be) names; returns those unnamed for
        longer than the grace period, to remove once it is written."""
        named = _named_parts(generation) | _named_parts(on_disk)
        present = {path.name for path in self.parts_dir.glob("*.json")} if self.parts_dir.is_dir() else set()
        now = time.time()
        first_seen = on_disk.get(_GARBAGE_KEY, {})
        garbage = {name: first_seen.get(name, now) for name in present - named}
        expired = sorted(name for name, since in garbage.items() if now - since >= GARBAGE_GRACE_SECONDS)
        generation[_GARBAGE_KEY] = {name: since for name, since in garbage.items() if name not in expired}
        return expired

    def _save(self, generation: dict) -> None:
        """Replace the generation file whole, keeping the one it replaces."""
        if self.path.exists():
            _link_backup(self.path, self.backup_path)
        atomic_write_bytes(self.path, _dumps(generation))

    def _make_dir(self) -> None:
        self.check_dir()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the data dir {self.data_dir}: {err.strerror}") from None

    def restore_hint(self) -> str:
        if not self.backup_path.exists():
            return ""
        return (f"; the previous good state is {self.backup_path} (stop watch287g, then copy it over "
                f"{self.path.name})")

    def _load(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as err:
            raise StoreError(f"cannot read {self.path}: {err}{self.restore_hint()}") from None
        if not isinstance(data, dict) or data.get(_FORMAT_KEY, 1) > FORMAT:
            raise StoreError(f"{self.path} is not a watch287g state file")
        return data

    def archive(self, sha256: str, content: bytes, suffix: str, durable: bool = True) -> Path:
        """Keep a raw file by its content hash (write-once, crash-safe).
        ``durable=False`` leaves the fsyncs to ``make_durable`` (a session's
        commit does it for the files it archived)."""
        target = self.archive_path(sha256, suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, content, durable=False)
        if durable:
            self.make_durable([target])
        return target

    def make_durable(self, archived: Iterable[Path]) -> None:
        """fsync archived files, then their folders, then the archive's own
        folder (which names the folders). A file found already there is
        synced too: the session that wrote it may have died before its
        commit, which is what makes files durable."""
        folders = set()
        for path in sorted(archived):
            sync_file(path)
            folders.add(path.parent)
        for folder in sorted(folders):
            sync_folder(folder)
        if folders:
            sync_folder(self.archive_dir)

    def archive_path(self, sha256: str, suffix: str) -> Path:
        if not (len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)):
            raise StoreError(f"not a sha256: {sha256!r}")
        return self.archive_dir / sha256[:2] / f"{sha256}{suffix}"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Encoding parts makes millions of short-lived tuples and lists and no
    cycles; left on, the cyclic collector would walk every record of the
    state over and over meanwhile (a fifth of a 100,000-record write)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _named_parts(generation: Mapping) -> set[str]:
    """Every part file a generation names."""
    names = set()
    for entry in generation.get(_PARTS_KEY, {}).values():
        for part in [entry, entry.get("tail"), *entry.get("segments", [])]:
            if part and part.get("file"):
                names.add(part["file"])
        names.update(entry.get("values", {}).values())      # meta's large values
    return names


def _link_backup(current: Path, backup: Path) -> None:
    """Make ``backup`` the file ``current`` holds now, atomically: a hard
    link under a temporary name, renamed over the old backup."""
    temporary = backup.with_name(backup.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.link(current, temporary)
    os.replace(temporary, backup)
