"""Turn a list's cells (from a workbook or an HTML table) into agreement rows.

The header is found by its names, not its position: ICE added COUNTY in March
2025 and ADDENDUM in July, and a future list may move columns again. A list
whose header carries SIGNED has the participating shape; without it, the
pending shape. Whether that shape is the one the link promised is the gate's
question, not this module's.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

from watch287g.core import normalize as norm
from watch287g.core.records import CellLike, Roster, Row, SimpleCell

# Header text (folded to upper case, single spaces) -> field name.
COLUMN_ALIASES = {
    "STATE": "state",
    "LAW ENFORCEMENT AGENCY": "agency",
    "TYPE": "agency_type",
    "AGENCY TYPE": "agency_type",
    "COUNTY": "county",
    "SUPPORT TYPE": "model",
    "SIGNED": "signed",
    "DATE SIGNED": "signed",
    "MOA": "moa",
    "ADDENDUM": "addendum",
}
REQUIRED_FIELDS = ("state", "agency", "model")
PARTICIPATING, PENDING = "participating", "pending"
HEADER_SEARCH_ROWS = 15


def _header_text(value: object) -> str:
    return norm.clean_text(value).upper()


def find_header(rows: Sequence[Sequence[CellLike]]) -> tuple[int, dict[int, str], list[str], list[str]] | None:
    """(row index, column index -> field, header texts, unknown texts) of the
    first row among the top few that names a state and an agency column."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        texts = [_header_text(c.value) for c in row]
        fields = {i: COLUMN_ALIASES[t] for i, t in enumerate(texts) if t in COLUMN_ALIASES}
        if {"state", "agency"} <= set(fields.values()):
            unknown = [t for t in texts if t and t not in COLUMN_ALIASES]
            return index, fields, [t for t in texts if t], unknown
    return None


def parse_roster(rows: Sequence[Sequence[CellLike]], today: dt.date | None = None) -> Roster:
    """Parse a list's rows (the header row among them) into a Roster."""
    found = find_header(rows)
    if found is None:
        return Roster(shape=None, columns=[], unknown_columns=[], missing_fields=list(REQUIRED_FIELDS),
                      rows=[], notes=["no header row naming STATE and LAW ENFORCEMENT AGENCY"])
    header_index, fields, columns, unknown = found
    present = set(fields.values())
    shape = PARTICIPATING if "signed" in present else PENDING
    missing = [f for f in REQUIRED_FIELDS if f not in present]
    header_names = {i: norm.clean_text(rows[header_index][i].value) for i in fields}
    roster = Roster(shape=shape, columns=columns, unknown_columns=unknown, missing_fields=missing, rows=[])
    if missing:
        return roster
    seen: set[tuple] = set()
    for offset, cells in enumerate(rows[header_index + 1:], start=header_index + 2):
        row = _parse_row(offset, cells, fields, header_names, today)
        if row is None:
            continue
        if row.key in seen:
            roster.duplicates += 1
        seen.add(row.key)
        roster.rows.append(row)
        roster.notes.extend(f"line {row.line}: {n}" for n in row.notes)
    return roster


def _parse_row(line: int, cells: Sequence[CellLike], fields: dict[int, str],
               header_names: dict[int, str], today: dt.date | None) -> Row | None:
    by_field: dict[str, CellLike] = {}
    raw: dict[str, str] = {}
    for index, name in fields.items():
        cell = cells[index] if index < len(cells) else SimpleCell(None)
        by_field.setdefault(name, cell)
        raw[header_names[index]] = norm.clean_text(cell.value)
    agency = norm.clean_text(by_field["agency"].value)
    if not agency or norm.is_blank(agency):
        return None  # blank and trailing rows; a state with no agency is no agreement
    notes: list[str] = []
    state, note = norm.state_code(norm.clean_text(by_field["state"].value))
    _note(notes, note)
    model, note = norm.model_name(norm.clean_text(by_field["model"].value))
    _note(notes, note)
    signed = None
    if "signed" in by_field:
        signed, note = norm.signed_date(by_field["signed"].value, today)
        _note(notes, note)
    return Row(
        line=line,
        state=state,
        agency=agency,
        agency_key=norm.agency_key(agency),
        model=model,
        agency_type=norm.agency_type(norm.clean_text(_value(by_field, "agency_type"))),
        county=norm.optional_text(_value(by_field, "county")),
        signed=signed,
        moa_url=_link(by_field.get("moa")),
        addendum_url=_link(by_field.get("addendum")),
        raw=raw,
        notes=notes,
    )


def _value(by_field: dict[str, CellLike], name: str) -> object:
    cell = by_field.get(name)
    return cell.value if cell is not None else None


def _link(cell: CellLike | None) -> str | None:
    """The document address of an MOA/ADDENDUM cell: its hyperlink, or the
    cell's own text when ICE typed the address in (a few rows do)."""
    if cell is None:
        return None
    return norm.document_url(cell.hyperlink) or norm.document_url(norm.clean_text(cell.value))


def _note(notes: list[str], note: str | None) -> None:
    if note:
        notes.append(note)


def rows_from_table(table: Iterable[Iterable[tuple[str, str | None]]]) -> list[list[SimpleCell]]:
    """Cells of an HTML table given as (text, href) pairs, for parse_roster."""
    return [[SimpleCell(text, href) for text, href in row] for row in table]
