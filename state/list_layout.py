"""The on-disk form of a list part (the agreement or pending records).

Every accepted list changes every record it lists (``last_seen``, the list
and line that listed it), so the part is rewritten whole at each commit: at
100,000 agreements its size is what a commit costs. Written as one JSON
object per record it was about 970 bytes a record, a third of them field
names, and each record repeated its list's evidence (sha256, file name,
kind, time). Here each thing is written once per part:

* ``shapes``: each distinct tuple of field names, in the records' order;
  a run of records of one shape is written as columns: ``[shape, ids,
  columns]``;
* ``evidence``: each distinct list evidence (``listed_in``), which a record
  names by its index; read back, the records of one list share one dict
  again;
* ``row_shapes``: each distinct header of the rows' values
  (``listed_values``); that column is ``[row shapes, value tuples]``;
* a column whose values are all one scalar, ``{"same": value}``.

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

LAYOUT_KEY, LAYOUT = "layout", "columns/1"
EVIDENCE_FIELD, VALUES_FIELD, LINE_FIELD = "listed_in", "listed_values", "listed_line"
_RECORDS_PER_CHUNK = 1000


class LayoutError(ValueError):
    """A list part that is neither form; str() says what is wrong."""


def _dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Numbering:
    """Distinct values numbered in order of first use."""

    def __init__(self) -> None:
        self.number: dict = {}
        self.values: list = []

    def add(self, key, value) -> None:
        if key not in self.number:
            self.number[key] = len(self.values)
            self.values.append(value)


class _Encoder:
    """Records to column groups. All the per-record work is ``map`` and
    ``zip`` over built-ins: a 100,000-record part costs no Python loop per
    record."""

    def __init__(self) -> None:
        self.shapes, self.evidence, self.row_shapes = _Numbering(), _Numbering(), _Numbering()
        self.evidence_by_object: dict[int, int] = {}

    def groups(self, docs: dict[str, dict]) -> list:
        """``[shape, ids, columns]`` for each run of records of one shape in
        ``docs``, in order: the differ pairs records in their stored order."""
        records, all_ids = list(docs.values()), list(map(int, docs))
        groups, start = [], 0
        for names, run in itertools.groupby(map(tuple, records)):
            end = start + len(list(run))
            members, ids, start = records[start:end], all_ids[start:end], end
            self.shapes.add(names, names)
            columns = list(zip(*map(tuple, map(dict.values, members))))
            if EVIDENCE_FIELD in names:
                at = names.index(EVIDENCE_FIELD)
                columns[at] = self._evidence_column(columns[at])
            if VALUES_FIELD in names:
                at = names.index(VALUES_FIELD)
                columns[at] = self._values_column(columns[at])
            groups.append([self.shapes.number[names], ids, list(map(_collapsed, columns))])
        return groups

    def _evidence_column(self, column: tuple) -> list[int]:
        # Records of one list share its evidence object: one dumps per list, not per record.
        for evidence in {id(e): e for e in column if id(e) not in self.evidence_by_object}.values():
            key = _dumps(evidence)
            self.evidence.add(key, evidence)
            self.evidence_by_object[id(evidence)] = self.evidence.number[key]
        return list(map(self.evidence_by_object.__getitem__, map(id, column)))

    def _values_column(self, column: tuple) -> list:
        headers = list(map(tuple, column))
        for header in dict.fromkeys(headers):
            self.row_shapes.add(header, header)
        return [_collapsed(list(map(self.row_shapes.number.__getitem__, headers))),
                list(map(tuple, map(dict.values, column)))]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _collapsed(column):
    """A column whose values are all the same scalar as ``{"same": value}``
    (source, status, times, the list's evidence: most columns of most
    groups). Lists and dicts stay whole: each record must get its own."""
    first = column[0]
    if type(first) in _SCALARS and column.count(first) == len(column) and len(set(map(type, column))) == 1:
        return {"same": first}
    return column


def _expanded(column, length: int) -> list:
    return list(itertools.repeat(column["same"], length)) if isinstance(column, dict) else column


def encode(docs: dict[str, dict]) -> Iterator[bytes]:
    """The part's bytes, a thousand records at a time (a 100,000-record part
    is never held whole as text)."""
    encoder, items = _Encoder(), iter(docs.items())
    yield b'{"' + LAYOUT_KEY.encode() + b'":' + _dumps(LAYOUT) + b',"groups":['
    separator = b""
    while chunk := dict(itertools.islice(items, _RECORDS_PER_CHUNK)):
        yield separator + _dumps(encoder.groups(chunk))[1:-1]
        separator = b","
    yield (b'],"shapes":' + _dumps(encoder.shapes.values) + b',"evidence":' + _dumps(encoder.evidence.values)
           + b',"row_shapes":' + _dumps(encoder.row_shapes.values) + b"}")


def decode(part: dict) -> dict[str, dict]:
    """The records by id, from either form (see the module)."""
    if part.get(LAYOUT_KEY) is None:
        return upgrade(part)
    if part[LAYOUT_KEY] != LAYOUT:
        raise LayoutError(f"unknown list layout {part[LAYOUT_KEY]!r}")
    try:
        shapes = [tuple(names) for names in part["shapes"]]
        evidence, row_shapes = part["evidence"], [tuple(header) for header in part["row_shapes"]]
        docs: dict[str, dict] = {}
        for shape, ids, columns in part["groups"]:
            names = shapes[shape]
            columns = [_expanded(column, len(ids)) for column in columns]
            if EVIDENCE_FIELD in names:
                at = names.index(EVIDENCE_FIELD)
                columns[at] = list(map(evidence.__getitem__, columns[at]))
            if VALUES_FIELD in names:
                at = names.index(VALUES_FIELD)
                headers, values = columns[at]
                headers = _expanded(headers, len(ids))
                columns[at] = list(map(dict, map(zip, map(row_shapes.__getitem__, headers), values)))
            if len(columns) != len(names) or any(len(column) != len(ids) for column in columns):
                raise LayoutError(f"a group of {len(ids)} records has columns of other lengths")
            docs.update(zip(map(str, ids), map(dict, map(zip, itertools.repeat(names), zip(*columns)))))
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

