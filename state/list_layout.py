"""The on-disk form of a list part (the agreement or pending records).

Every accepted list changes every record it lists (``last_seen``, the list
and line that listed it), so the part is rewritten whole at each commit: at
100,000 agreements its size is what a commit costs. Written as one JSON
object per record it was about 970 bytes a record, a third of them field
names, and each record repeated its list's evidence (sha256, file name,
kind, time). Here each thing is written once per part:

* ``shapes``: each distinct tuple of field names, in the records' order;
  a record is ``[shape, id, value, value, ...]``;
* ``evidence``: each distinct list evidence (``listed_in``), which a record
  names by its index; read back, the records of one list share one dict
  again;
* ``row_shapes``: each distinct header of the rows' values
  (``listed_values``), which a record writes as ``[row_shape, value, ...]``.

A part written before this form (format 2 of the generation, or format 1's
inline tables) is an object of documents by id, each record citing its list
in ``last_listed`` (the evidence with the line) and ``row`` (line and
values): ``decode`` reads both, moving old records to the fields the differ
uses now (state/differ.py ``_mark_seen``).
"""

from __future__ import annotations

import itertools
import json
from typing import Iterator

LAYOUT_KEY, LAYOUT = "layout", "shapes/1"
EVIDENCE_FIELD, VALUES_FIELD, LINE_FIELD = "listed_in", "listed_values", "listed_line"
_RECORDS_PER_CHUNK = 1000


class LayoutError(ValueError):
    """A list part that is neither form; str() says what is wrong."""


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Table:
    """Distinct values numbered in order of first use."""

    def __init__(self) -> None:
        self.index: dict = {}
        self.values: list = []

    def number(self, key, value) -> int:
        number = self.index.get(key)
        if number is None:
            number = self.index[key] = len(self.values)
            self.values.append(value)
        return number


def encode(docs: dict[str, dict]) -> Iterator[bytes]:
    """The part's bytes, a thousand records at a time (a 100,000-record part
    is never held whole as text)."""
    shapes, rows = _Table(), _Table()
    evidence, evidence_by_object = _Table(), {}
    positions: dict[int, tuple[int | None, int | None]] = {}

    def encoded(doc_id: str, doc: dict) -> list:
        names = tuple(doc)
        shape = shapes.number(names, names)
        if shape not in positions:
            positions[shape] = (_position(names, EVIDENCE_FIELD), _position(names, VALUES_FIELD))
        at_evidence, at_values = positions[shape]
        values = [shape, int(doc_id), *doc.values()]
        if at_evidence is not None:
            listed_in = values[at_evidence]
            # Records of one list share its evidence object: one dumps per list, not per record.
            number = evidence_by_object.get(id(listed_in))
            if number is None:
                number = evidence_by_object[id(listed_in)] = evidence.number(_dumps(listed_in), listed_in)
            values[at_evidence] = number
        if at_values is not None:
            row = values[at_values]
            header = tuple(row)
            values[at_values] = [rows.number(header, header), *row.values()]
        return values

    items = iter(docs.items())
    yield b'{"' + LAYOUT_KEY.encode() + b'":' + _dumps(LAYOUT) + b',"records":['
    separator = b""
    while chunk := [encoded(doc_id, doc) for doc_id, doc in itertools.islice(items, _RECORDS_PER_CHUNK)]:
        yield separator + _dumps(chunk)[1:-1]
        separator = b","
    yield (b'],"shapes":' + _dumps(shapes.values) + b',"evidence":' + _dumps(evidence.values)
           + b',"row_shapes":' + _dumps(rows.values) + b"}")


def _position(names: tuple, field: str) -> int | None:
    # Two places after the shape and id that lead each encoded record.
    return names.index(field) + 2 if field in names else None


def decode(part: dict) -> dict[str, dict]:
    """The records by id, from either form (see the module)."""
    if part.get(LAYOUT_KEY) is None:
        return upgrade(part)
    if part[LAYOUT_KEY] != LAYOUT:
        raise LayoutError(f"unknown list layout {part[LAYOUT_KEY]!r}")
    try:
        shapes = [tuple(names) for names in part["shapes"]]
        evidence, row_shapes = part["evidence"], [tuple(header) for header in part["row_shapes"]]
        fields = [(_position(names, EVIDENCE_FIELD), _position(names, VALUES_FIELD)) for names in shapes]
        docs = {}
        for values in part["records"]:
            at_evidence, at_values = fields[values[0]]
            if at_evidence is not None:
                values[at_evidence] = evidence[values[at_evidence]]
            if at_values is not None:
                row = values[at_values]
                values[at_values] = dict(zip(row_shapes[row[0]], itertools.islice(row, 1, None)))
            docs[str(values[1])] = dict(zip(shapes[values[0]], itertools.islice(values, 2, None)))
        return docs
    except (KeyError, IndexError, TypeError) as err:
        raise LayoutError(f"a damaged list part ({type(err).__name__}: {err})") from None


def upgrade(docs: dict) -> dict[str, dict]:
    """Records of the form before this one, in place: ``last_listed`` and
    ``row`` become ``listed_in`` (one shared dict per list), ``listed_line``
    and ``listed_values``. Records already in the new form pass unchanged."""
    shared: dict[bytes, dict] = {}
    for doc_id, doc in docs.items():
        try:
            if "last_listed" not in doc:
                continue
            cited, row = doc.pop("last_listed"), doc.pop("row")
            line = cited.pop("line")
            if row["line"] != line:
                raise LayoutError(f"record {doc_id} cites line {line} of its list but row {row['line']}")
            doc[EVIDENCE_FIELD] = shared.setdefault(_dumps(cited), cited)
            doc[LINE_FIELD], doc[VALUES_FIELD] = line, row["values"]
        except (KeyError, TypeError, AttributeError) as err:
            raise LayoutError(f"record {doc_id} does not cite the list that listed it ({err})") from None
    return docs

