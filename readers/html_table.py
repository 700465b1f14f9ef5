"""A list published as an HTML table (ICE's page until early 2025; some
states' pages) read into the same Snapshot a workbook becomes.

A page can carry several tables (ICE's also lists steering committee
meetings): the list is the first table whose header row maps to a roster
header (``spiders.roster.find_header``: STATE and LAW ENFORCEMENT AGENCY).
The snapshot's bytes are a canonical JSON serialisation of the table's cells,
so its sha256 changes exactly when the table's text or links change, and not
when the page around it does.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from watch287g.core import normalize as norm
from watch287g.core.records import Snapshot, sha256_hex
from watch287g.readers.ice_page import absolute_url, as_of_before, base_url
from watch287g.readers.roster import find_header, parse_roster, rows_from_table

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

TableRows = list[list[tuple[str, str | None]]]


def roster_table(soup: BeautifulSoup) -> Tag | None:
    """The first table whose header names a roster's columns."""
    for table in soup.find_all("table"):
        if find_header(rows_from_table(_cells(table, None))) is not None:
            return table
    return None


def roster_rows(soup: BeautifulSoup, url: str) -> tuple[TableRows, str | None] | None:
    """(rows of (text, absolute href), the "As of …" sentence before the
    table) of the page's roster table, or None when it has none."""
    table = roster_table(soup)
    if table is None:
        return None
    return _cells(table, base_url(soup, url)), as_of_before(table)


def canonical_bytes(rows: TableRows) -> bytes:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def snapshot_from_table(source: str, kind: str, observed_at: str, rows: TableRows,
                        provenance: dict | None = None) -> Snapshot:
    content = canonical_bytes(rows)
    roster = parse_roster(rows_from_table(rows), today=dt.date.fromisoformat(observed_at[:10]))
    return Snapshot(source=source, kind=kind, observed_at=observed_at, file_name=None,
                    sha256=sha256_hex(content), size=len(content), roster=roster,
                    provenance=dict(provenance or {}), content=content, format="html-table")


def _cells(table: Tag, base: str | None) -> TableRows:
    rows: TableRows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a row of a table nested inside a cell
        row = []
        for cell in tr.find_all(("th", "td"), recursive=False):
            anchor = cell.find("a", href=True)
            href = absolute_url(base, anchor["href"]) if anchor is not None and base else None
            row.append((norm.clean_text(cell.get_text(" ")), href))
        if row:
            rows.append(row)
    return rows
