"""Build small ICE-shaped workbooks for tests (openpyxl writes real .xlsx)."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import Workbook

PARTICIPATING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA",
                        "ADDENDUM"]
PENDING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"]


def agreement(state: str, agency: str, model: str = "Task Force Model", signed="2025-03-01",
              county: str = "Some County", moa: str | None = None, agency_type: str = "County") -> dict:
    return {"STATE": state, "LAW ENFORCEMENT AGENCY": agency, "TYPE": agency_type, "COUNTY": county,
            "SUPPORT TYPE": model, "SIGNED": signed, "MOA": moa}


def workbook_bytes(rows: list[dict], header: list[str] | None = None, sheet_title: str = "Sheet1") -> bytes:
    """One sheet, header in row 1; SIGNED strings in ISO form become real
    dates (as in ICE's files); MOA values become 'link' cells with hyperlinks."""
    header = header or PARTICIPATING_HEADER
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    sheet.append(header)
    for line, row in enumerate(rows, start=2):
        for column, name in enumerate(header, start=1):
            value = row.get(name)
            cell = sheet.cell(row=line, column=column)
            if name == "SIGNED" and isinstance(value, str) and _is_iso(value):
                cell.value = dt.datetime.fromisoformat(value)
                cell.number_format = "m/d/yyyy"
            elif name in ("MOA", "ADDENDUM") and value:
                cell.value = "link"
                cell.hyperlink = value
            else:
                cell.value = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _is_iso(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def sample_agreements(count: int, state: str = "FLORIDA", prefix: str = "Town") -> list[dict]:
    return [agreement(state, f"{prefix} {chr(65 + i % 26)}{i:03d} Police Department",
                      signed=f"2025-0{1 + i % 9}-1{i % 10}", county=f"County {i}",
                      moa=f"https://www.ice.gov/doclib/287gMOA/{prefix}{i:03d}_TFM_MOA.pdf")
            for i in range(count)]
