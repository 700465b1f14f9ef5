"""Counts of one ICE workbook computed with plain openpyxl, straight from the
file: an independent check on what ``watch287g stats`` and ``export`` say,
which read the same file through the project's own reader."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

# State cells as ICE writes them, upper-cased; the one typo seen in 2025 included.
STATE_CODES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "COLORADO": "CO", "DELAWARE": "DE",
    "FLORIDA": "FL", "GEORGIA": "GA", "GUAM": "GU", "IDAHO": "ID", "INDIANA": "IN", "IOWA": "IA",
    "KANSAS": "KS", "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD",
    "MASSACHUSETTS": "MA", "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO",
    "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK",
    "PENNSYLVANIA": "PA", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX",
    "UTAH": "UT", "VIRGINIA": "VA", "WEST VIRGINIA": "WV", "WEST VIRIGINIA": "WV", "WISCONSIN": "WI",
    "WYOMING": "WY",
}
MODEL_BY_FIRST_WORD = {"JAIL": "JEM", "TASK": "TFM", "WARRANT": "WSO"}


@dataclass
class PlainCounts:
    path: Path
    header: list[str]
    rows: list[dict] = field(default_factory=list)

    @property
    def has_signed(self) -> bool:
        return "SIGNED" in self.header

    @property
    def has_county(self) -> bool:
        return "COUNTY" in self.header

    def by_state(self) -> dict[str, int]:
        return dict(Counter(STATE_CODES[_text(r["STATE"]).upper()] for r in self.rows))

    def by_model(self) -> dict[str, int]:
        return dict(Counter(MODEL_BY_FIRST_WORD[_text(r["SUPPORT TYPE"]).upper().split()[0]] for r in self.rows))

    def signed_in(self, year: int) -> int:
        return sum(1 for r in self.rows if _year(r.get("SIGNED")) == year)

    def county_texts(self) -> set[tuple[str, str]]:
        """(state, county text) of rows that name a county, statewide agencies left out."""
        return {(STATE_CODES[_text(r["STATE"]).upper()], _text(r["COUNTY"])) for r in self.rows
                if _text(r.get("TYPE")).upper() != "STATE AGENCY" and _names_something(_text(r.get("COUNTY")))}


def _text(value) -> str:
    return " ".join(str(value).replace("\u00a0", " ").split()) if value is not None else ""


def _names_something(text: str) -> bool:
    return len(re.sub(r"[^A-Za-z]", "", text)) > 2 and text.upper() not in ("#N/A", "N/A", "NONE")


def _year(value) -> int | None:
    if isinstance(value, dt.datetime):
        return value.year
    match = re.search(r"(\d{4})\s*$", _text(value))
    return int(match.group(1)) if match else None


def plain_counts(path: Path) -> PlainCounts:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [_text(c).upper() for c in next(rows)]
        counts = PlainCounts(path, header)
        for values in rows:
            record = dict(zip(header, values))
            if _text(record.get("LAW ENFORCEMENT AGENCY")):
                counts.rows.append(record)
    finally:
        workbook.close()
    return counts


def live_file(manifest: Path, kind: str, as_of: str) -> Path:
    """The file of ``kind`` live at ``as_of`` by the manifest alone: the last
    one observed by then whose header has the shape of its kind (ICE once
    served the pending list behind the participating link)."""
    with manifest.open(newline="") as handle:
        candidates = [manifest.parent / row["file"] for row in csv.DictReader(handle)
                      if row["kind"] == kind and row["observed_at"] <= as_of.rstrip("Z")]
    for path in reversed(candidates):
        if plain_counts(path).has_signed == (kind == "participating"):
            return path
    raise AssertionError(f"no {kind} list by {as_of} in {manifest}")


def moa_links(path: Path) -> int:
    """Rows whose MOA cell links somewhere (read-only openpyxl drops
    hyperlinks, so the file is loaded whole)."""
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header = [_text(c.value).upper() for c in sheet[1]]
    moa, agency = header.index("MOA"), header.index("LAW ENFORCEMENT AGENCY")
    return sum(1 for row in sheet.iter_rows(min_row=2) if _text(row[agency].value)
               and (row[moa].hyperlink is not None or _text(row[moa].value).startswith("http")))
