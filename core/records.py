"""The records every layer passes around, at the bottom of the house.

A configured source, each HTTP exchange, each list as served and the check
itself (what the spiders hand on); the rows and roster a reader makes of a
list; the snapshot the state layer takes in. Plain dataclasses that import
nothing of the project, so any layer may use them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# failed checks in a row before source.failing
DEFAULT_FAILURES_BEFORE_ALERT = 3


@dataclass(frozen=True)
class Source:
    """One [[sources]] entry of the config."""

    name: str
    type: str                       # "ice" | "page"
    url: str
    format: str | None = None       # "html-table": read the list from a table on the page
    kind: str = "participating"     # which list an html-table page publishes
    selector: str | None = None     # CSS selector of a page's main content
    enabled: bool = True            # checked by `watch287g check` without --source
    failing_after: int = DEFAULT_FAILURES_BEFORE_ALERT  # failed checks in a row before source.failing


@dataclass
class Fetch:
    """One HTTP exchange, as recorded on the check."""

    role: str                       # page | participating | pending
    url: str
    fetched_at: str
    status: int | None = None
    final_url: str | None = None
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    error: str | None = None
    sha256: str | None = None       # of the body: a page's by the spider, a list's by the commit step

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def record(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ListDownload:
    """A list as served: a workbook's bytes, or a page table's rows."""

    kind: str                       # participating | pending: what the link promised
    fetch: Fetch
    format: str = "xlsx"            # xlsx | html-table
    body: bytes | None = None       # None when the server said 304 Not Modified
    rows: list | None = None        # html-table: rows of (text, href)
    file_name: str | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.fetch.not_modified


@dataclass
class SourceCheck:
    """One check of one source: the item the pipeline hands to the state layer."""

    source: Source
    started_at: str
    finished_at: str | None = None
    fetched: list[Fetch] = field(default_factory=list)
    lists: list[ListDownload] = field(default_factory=list)
    page: Any = None                # spiders.pages.PageContent of a watched page
    page_not_modified: bool = False
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remember: list[dict] = field(default_factory=list)  # validators to keep in table "sources"
    steps: list[tuple] = field(default_factory=list, repr=False)




class Cell(NamedTuple):
    """One cell of a list as its source stores it (a workbook's, or an HTML
    table's text and link): nothing trimmed, so callers can keep the raw
    value. Immutable, so equal values can share one instance; a tuple, so a
    row's cells hash and compare at C speed (the roster remembers rows by
    them)."""

    value: object
    hyperlink: str | None = None  # external target as stored (SafeLinks left wrapped)


@dataclass(slots=True)
class Row:
    """One line of ICE's list: canonical values for the differ, raw text for
    the evidence an alert cites."""

    line: int                   # row number in the sheet (1-based), as a person finds it
    state: str | None           # USPS code
    agency: str                 # ICE's spelling, whitespace and quotes cleaned
    agency_key: str             # comparison key (see normalize.agency_key)
    model: str | None
    agency_type: str | None
    county: str | None
    signed: str | None          # ISO date, or None (see notes)
    moa_url: str | None
    addendum_url: str | None
    raw: dict[str, str]         # header text -> cell text as ICE wrote it
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The agreement this row lists (see agreement_key)."""
        return agreement_key(self.state, self.agency_key, self.model)

    def evidence(self) -> dict:
        return {"line": self.line, "values": dict(self.raw)}


@dataclass
class Roster:
    """A parsed list. ``shape`` is what the header says the list is."""

    shape: str | None                       # participating | pending | None (no header)
    columns: list[str]                      # header texts found, in order
    unknown_columns: list[str]
    missing_fields: list[str]               # required fields whose column is absent
    rows: list[Row]
    duplicates: int = 0                     # rows repeating an earlier (state, agency, model)
    notes: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return self.shape is not None and not self.missing_fields


@dataclass
class Snapshot:
    source: str                 # configured source name, e.g. "ice"
    kind: str                   # which list the link promised: participating | pending
    observed_at: str            # ISO 8601 UTC: when this list was live
    file_name: str | None       # the publisher's own file name (Content-Disposition or URL)
    sha256: str
    size: int
    roster: Roster | None       # None when the reader refused the file
    error: str | None = None    # the reader's one-line refusal
    provenance: dict = field(default_factory=dict)  # page/file/final URL, HTTP status, ETag, as-of text...
    content: bytes | None = None  # the raw file, archived before the state write; never stored in the DB
    format: str = "xlsx"        # xlsx | html-table (archived as canonical JSON of its cells)

    def source_record(self) -> dict:
        """What every event cites as its evidence."""
        record = {
            "kind": self.kind,
            "file_name": self.file_name,
            "sha256": self.sha256,
            "observed_at": self.observed_at,
        }
        for key in ("file_url", "as_of"):
            if self.provenance.get(key):
                record[key] = self.provenance[key]
        return record


def agreement_key(state: str | None, agency_key: str, model: str | None) -> str:
    """An agreement's (state, agency, model) as one string, the key the gate,
    the differ and the exports compare: strings are not tracked by the cyclic
    collector, so a 100,000-row list adds no 200,000 tuples for it to
    traverse. Agency keys hold only letters, digits and spaces."""
    return f"{state}|{agency_key}|{model}"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
