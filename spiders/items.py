"""The records a check passes around: the configured source, each HTTP
exchange, each list as served, and the check itself — the item the spiders
hand to the pipeline. Plain dataclasses, free of Scrapy, so the config
reader (``watch287g.check.load_sources``) stays light.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from state.health import DEFAULT_FAILURES_BEFORE_ALERT


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
    sha256: str | None = None       # set by the pipeline for list bodies

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


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
