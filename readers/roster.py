"""Turn a list's cells (from a workbook or an HTML table) into agreement rows.

The header is found by its names, not its position: ICE added COUNTY in March
2025 and ADDENDUM in July, and a future list may move columns again. A list
whose header carries SIGNED has the participating shape; without it, the
pending shape. Whether that shape is the one the link promised is the gate's
question, not this module's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import threading
from typing import Iterable, Iterator, Sequence

from watch287g.core import normalize as norm
from watch287g.core.records import Cell, Roster, Row

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


def find_header(rows: Sequence[Sequence[Cell]]) -> tuple[int, dict[int, str], list[str], list[str]] | None:
    """(row index, column index -> field, header texts, unknown texts) of the
    first row among the top few that names a state and an agency column."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        texts = [_header_text(c.value) for c in row]
        fields = {i: COLUMN_ALIASES[t] for i, t in enumerate(texts) if t in COLUMN_ALIASES}
        if {"state", "agency"} <= set(fields.values()):
            unknown = [t for t in texts if t and t not in COLUMN_ALIASES]
            return index, fields, [t for t in texts if t], unknown
    return None


def parse_roster(rows: Sequence[Sequence[Cell]], today: dt.date | None = None) -> Roster:
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
    seen: set[str] = set()
    columns_by_field = _columns_by_field(fields, header_names)
    body, first_line = rows[header_index + 1:], header_index + 2
    if len(rows) <= REPEATED_ROWS_KEPT:
        parsed = _RepeatedRows(columns_by_field, today).parse(body, first_line)
    else:
        parsed = _each_row(body, first_line, columns_by_field, today)
    listed = roster.rows
    for row, key in parsed:
        before = len(seen)
        seen.add(key)
        if len(seen) == before:
            roster.duplicates += 1
        listed.append(row)
        if row.notes:
            roster.notes.extend(f"line {row.line}: {n}" for n in row.notes)
    return roster


def _each_row(body: Sequence[Sequence[Cell]], first_line: int, columns: list[tuple[int, str, str | None]],
              today: dt.date | None) -> Iterator[tuple[Row, str]]:
    """(row, its key) of each agreement row of ``body``, the list's rows
    under its header, the first at line ``first_line``."""
    for line, cells in enumerate(body, first_line):
        row = _parse_row(line, cells, columns, today)
        if row is not None:
            yield row, row.key


def _columns_by_field(fields: dict[int, str], header_names: dict[int, str]) -> list[tuple[int, str, str | None]]:
    """(column index, header text, field or None) for every known column, in
    order; a field named by two columns is read from the first, and the
    others only kept as raw text."""
    claimed: set[str] = set()
    columns = []
    for index, name in fields.items():
        columns.append((index, header_names[index], None if name in claimed else name))
        claimed.add(name)
    return columns


_NO_CELL = Cell(None)
_UNSEEN = object()
_NUMBERS = frozenset({bool, int, float})

# ICE lists the same agreements list after list: the 391 lists of 2025 hold
# 164,883 rows but only 4,326 distinct ones. A row whose cells (values and
# links) under the same columns, read in the same year (see
# normalize.latest_signed_year), were parsed before parses the same; only
# its line differs. The rows kept are forgotten once they pass this many
# between two lists (so at most twice as many are held), and a longer list
# is parsed row by row: it would only cycle them.
REPEATED_ROWS_KEPT = 16_384
# Headers and years the remembered rows were read under: the participating
# and the pending list's, and the odd header change or new year.
_CONTEXTS_KEPT = 8


# A parsed row's fields after its line, and the row again at another line
# from them: its values, raw text and notes shared, not copied (nothing
# changes a parsed row).
_ROW_FIELDS = [field.name for field in dataclasses.fields(Row)]
assert _ROW_FIELDS[0] == "line"
_FIELDS_AFTER_LINE = operator.attrgetter(*_ROW_FIELDS[1:])


class _RepeatedRows:
    """_each_row, remembering rows by their cells across lists read with
    the same columns in the same year (a replay reads hundreds in one process)."""

    _kept: dict[tuple, dict[tuple, tuple[str, tuple] | None]] = {}
    # Lists read at once in two threads each keep their own context's dict;
    # only choosing (and clearing) them is shared.
    _choosing = threading.Lock()

    def __init__(self, columns: list[tuple[int, str, str | None]], today: dt.date | None) -> None:
        self._columns = columns
        self._today = today
        indexes = [index for index, _header, _name in columns]
        # The row's cells at those columns, picked and read at C speed: this
        # runs for every row, and nearly every row is one seen before. (A
        # list has at least its three required columns, so the picker
        # always returns a tuple.)
        self._width = max(indexes) + 1
        self._pick = operator.itemgetter(*indexes)
        # When the columns read are the first ones, as in ICE's lists, a row
        # that ends early is its own key: the cells it lacks are blank.
        self._leading = indexes == list(range(self._width))
        context = (tuple(columns), norm.latest_signed_year(today))
        with self._choosing:
            if sum(map(len, self._kept.values())) > REPEATED_ROWS_KEPT or len(self._kept) > _CONTEXTS_KEPT:
                self._kept.clear()
            self._rows = self._kept.setdefault(context, {})

    def parse(self, body: Sequence[Sequence[Cell]], first_line: int) -> Iterator[tuple[Row, str]]:
        remembered, pick, width, leading = self._rows, self._pick, self._width, self._leading
        for line, cells in enumerate(body, first_line):
            # The picked cells themselves are the key (tuples of value and
            # link, equal ones mostly one object), hashed once: a tuple does
            # not keep its hash.
            short = width - len(cells)
            if short <= 0:
                key = pick(cells)
            elif leading:
                key = tuple(cells)
            else:  # a row ends at its last value: the cells after it are blank
                key = pick([*cells, *[_NO_CELL] * short])
            known = remembered.get(key, _UNSEEN)
            if known is _UNSEEN:
                row = _parse_row(line, cells, self._columns, self._today)
                if any(type(cell.value) in _NUMBERS for cell in key):
                    # 1 == True == 1.0, yet they read as "1", "True" and
                    # "1.0": such a key could fetch another row's parse.
                    if row is not None:
                        yield row, row.key
                elif row is None:
                    remembered[key] = None
                else:
                    remembered[key] = known = (row.key, _FIELDS_AFTER_LINE(row))
                    yield row, known[0]
            elif known is not None:
                yield Row(line, *known[1]), known[0]


def _parse_row(line: int, cells: Sequence[Cell], columns: list[tuple[int, str, str | None]],
               today: dt.date | None) -> Row | None:
    # Each cell's text is cleaned once: the raw text kept as evidence and
    # the value every field below is read from. This runs for every row of
    # every list, so it stays a flat loop.
    raw: dict[str, str] = {}
    by_field: dict[str, Cell] = {}
    text: dict[str, str] = {}
    width = len(cells)
    for index, header, name in columns:
        cell = cells[index] if index < width else _NO_CELL
        cleaned = raw[header] = norm.clean_text(cell.value)
        if name is not None:
            by_field[name] = cell
            text[name] = cleaned
    agency = text["agency"]
    if not agency or norm.is_blank(agency):
        return None  # blank and trailing rows; a state with no agency is no agreement
    notes: list[str] = []
    state, note = norm.state_code(text["state"])
    _note(notes, note)
    model, note = norm.model_name(text["model"])
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
        agency_type=norm.agency_type(text.get("agency_type", "")),
        county=norm.optional_text(text.get("county")),
        signed=signed,
        moa_url=_link(by_field.get("moa"), text.get("moa")),
        addendum_url=_link(by_field.get("addendum"), text.get("addendum")),
        raw=raw,
        notes=notes,
    )


def _link(cell: Cell | None, text: str | None) -> str | None:
    """The document address of an MOA/ADDENDUM cell: its hyperlink, or the
    cell's own (cleaned) text when ICE typed the address in (a few rows do)."""
    if cell is None:
        return None
    return norm.document_url(cell.hyperlink) or norm.document_url(text)


def _note(notes: list[str], note: str | None) -> None:
    if note:
        notes.append(note)


def rows_from_table(table: Iterable[Iterable[tuple[str, str | None]]]) -> list[list[Cell]]:
    """Cells of an HTML table given as (text, href) pairs, for parse_roster."""
    return [[Cell(text, href) for text, href in row] for row in table]
