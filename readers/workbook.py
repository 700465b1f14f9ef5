"""From a downloaded (or archived) workbook's bytes to a Snapshot record.

Live checks and ``watch287g replay`` both come through here, so a file is
read, refused and described the same way whichever path brought it.
"""

from __future__ import annotations

import datetime as dt

from watch287g.core.records import Snapshot, sha256_hex
from watch287g.readers.roster import parse_roster
from watch287g.readers.xlsx import Limits, WorkbookError, read_first_sheet


def snapshot_from_workbook(source: str, kind: str, observed_at: str, file_name: str | None,
                           content: bytes, provenance: dict | None = None,
                           limits: Limits = Limits()) -> Snapshot:
    """Read a list's workbook. A refused file still becomes a Snapshot (with
    ``error`` set), so the gate can quarantine it with its reason."""
    roster, error = None, None
    try:
        today = dt.date.fromisoformat(observed_at[:10])
        roster = parse_roster(read_first_sheet(content, limits), today=today)
    except WorkbookError as err:
        error = str(err)
    return Snapshot(source=source, kind=kind, observed_at=observed_at, file_name=file_name,
                    sha256=sha256_hex(content), size=len(content), roster=roster, error=error,
                    provenance=dict(provenance or {}), content=content)
