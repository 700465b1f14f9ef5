"""The record a fetch hands to the state layer: one list as observed once.

Spiders (live) and ``watch287g replay`` (archived files) both build these;
the gate, differ and store take nothing else from them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from spiders.roster import Roster


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


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
