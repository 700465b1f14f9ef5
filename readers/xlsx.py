"""A minimal, safe SpreadsheetML (.xlsx) reader: the first worksheet's cells and hyperlinks.

Why not openpyxl: its full mode costs ~140 ms per ICE workbook and its fast
read-only mode drops cell hyperlinks, the only place ICE keeps MOA addresses.
Why not python-calamine (Rust, about 2.2x faster than this): it reads error
cells (#N/A) and formulas without a cached value as "", trims text, and
allocates a sheet's whole grid, so two far-apart cells in a 2 KB file abort
the process. This reads just the parts a list needs with ``zipfile`` and
lxml, under hard size limits, and reports every cell as openpyxl does; the
large parts in Excel's own plain form (sheetData, hyperlinks, the sheet's
.rels, sharedStrings) go through faster tokenisers, see "Excel's plain form".
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import posixpath
import re
import threading
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, TypeVar

from lxml import etree
from watch287g.core.records import Cell
from watch287g.core.sizes import human_size

__all__ = ["Cell", "Limits", "WorkbookError", "read_first_sheet"]

Value = str | int | float | bool | dt.datetime | None

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_ROW, _C, _V, _IS, _T, _RUN = (_MAIN + tag for tag in ("row", "c", "v", "is", "t", "r"))
_HYPERLINK, _SHEET, _WORKBOOK_PR = (_MAIN + tag for tag in ("hyperlink", "sheet", "workbookPr"))
_NUM_FMTS, _CELL_XFS, _SI = (_MAIN + tag for tag in ("numFmts", "cellXfs", "si"))
_WORKSHEET, _SHEET_DATA, _HYPERLINKS = (_MAIN + tag for tag in ("worksheet", "sheetData", "hyperlinks"))
_WORKBOOK, _SHEETS, _SST, _STYLE_SHEET = (_MAIN + tag for tag in ("workbook", "sheets", "sst", "styleSheet"))
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationships"

# What a part's reader wants from it: for the root and for each container
# directly under the root, the tags of the children to hand over. Everything
# a list needs sits at one of those two depths (sheetData/row,
# hyperlinks/hyperlink, sst/si...), so no part is ever searched deeper.
Wanted = Mapping[str, frozenset[str]]

_WORKBOOK_PART = "xl/workbook.xml"
_XML_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_MAX_MESSAGE = 300
# Parts up to this size are parsed whole (lxml needs ~22 bytes per byte of
# sheet XML); larger ones are streamed in chunks.
_TREE_MAX_BYTES = 2 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024
# A part whose root element has not started this far in is not what it claims to be.
_PROLOG_MAX_BYTES = 1024 * 1024
# How much XML one kept element (a row, a string item, cellXfs) may span
# while it is still open; Excel's largest (64000 cell styles) needs ~10 MB.
_MAX_ELEMENT_BYTES = 32 * 1024 * 1024
# Inflating a member this small is harmless whatever its ratio, and tiny
# repetitive parts (an empty sharedStrings) can legitimately exceed the ratio.
_RATIO_FLOOR_BYTES = 64 * 1024

# Built-in number formats that display a date or time (ECMA-376 18.8.30; 27-36
# and 50-58 are the East Asian locale date formats).
_BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
# Parts of a format code that never mean a date: quoted text, [Red]/[$-409]
# brackets, backslash escapes, and the _x (padding) / *x (fill) pairs.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_DATE_CODES = frozenset("dmyhsDMYHS")
_MAX_SERIAL = 2958465  # 9999-12-31 in the 1900 system
_EPOCH_1900 = dt.datetime(1899, 12, 30)  # day 0 of the 1900 system from serial 60 on
_EPOCH_1900_EARLY = dt.datetime(1899, 12, 31)  # before Excel's fictitious 1900-02-29
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_DIGITS = "0123456789"
_XSTRING_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")

# Bytes that identify what a non-xlsx download really is, for the refusal message.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OTHER_PACKAGES = (
    ("word/", "a Word document"),
    ("ppt/", "a PowerPoint presentation"),
    ("xl/workbook.bin", "a binary .xlsb workbook"),
    ("content.xml", "an OpenDocument file"),
)


class WorkbookError(ValueError):
    """The bytes are not a readable, safe .xlsx workbook. str(err) is a clear
    one-line reason for a human, e.g. 'not an xlsx workbook (looks like an HTML page)'."""

    def __init__(self, message: str) -> None:
        # The message ends up in one-line logs and alerts: it may quote part
        # names or parser errors taken from a hostile file.
        one_line = " ".join(str(message).split())
        if len(one_line) > _MAX_MESSAGE:
            one_line = one_line[: _MAX_MESSAGE - 1] + "…"
        super().__init__(one_line)


@dataclass(frozen=True)
class Limits:
    """Bounds on the work a downloaded file can make us do; ICE's largest
    list (1,300 rows, 180 KB) is far inside all of them."""

    max_file_bytes: int = 20 * 1024 * 1024  # compressed input size
    max_member_bytes: int = 100 * 1024 * 1024  # declared uncompressed size of any one member read
    max_total_bytes: int = 200 * 1024 * 1024  # sum of declared uncompressed sizes of members read
    max_ratio: int = 200  # uncompressed/compressed ratio per member (zip bomb)
    # Data rows: rows with a value after the first one, which is the header
    # (config: [crawl] max_list_rows).
    max_rows: int = 100_000
    max_cols: int = 200


_EMPTY = Cell(None)
# Cell(value, link) for the cells made by the thousand per list: a NamedTuple's
# own constructor is a Python function and costs twice as much.
_new_cell = tuple.__new__
# Every blank row of a result is this one list: results are read-only.
_BLANK_ROW: list[Cell] = []
_MAX_SHEET_ROWS = 1_048_576  # Excel's last row: a reference past it is not a cell
_SHEET_WANTED: Wanted = {_WORKSHEET: frozenset(), _SHEET_DATA: frozenset([_ROW]),
                         _HYPERLINKS: frozenset([_HYPERLINK])}


def read_first_sheet(data: bytes, limits: Limits = Limits()) -> list[list[Cell]]:
    """Rows of the workbook's first worksheet (in workbook order), as a dense
    list: ``rows[i]`` is sheet row i+1, each row a list of Cell by column with
    gaps filled by Cell(None); empty rows are [] and trailing ones dropped.
    The lists are the caller's to read, not to change (empty rows share one,
    and a workbook read again may give the very lists of the earlier read).

    Raises WorkbookError for anything unreadable or unsafe, never another
    exception type: callers quarantine a refused file instead of crashing.
    """
    try:
        return _read_first_sheet(data, limits)
    except WorkbookError:
        raise
    except Exception as exc:  # the promise above: a hostile file must not crash the caller
        raise WorkbookError(f"unreadable xlsx workbook ({type(exc).__name__}: {exc})") from exc


def _read_first_sheet(data: bytes, limits: Limits) -> list[list[Cell]]:
    package = _Package(data, limits)
    rows = _RECENT_READINGS.find(package, limits)
    if rows is None:
        book = _read_book(package)
        grid, links = _read_sheet(package.read(book.sheet_part), book, limits)
        if links:
            _apply_hyperlinks(grid, links, _external_targets(package, book.sheet_part), limits)
        rows = grid.rows
        _RECENT_READINGS.keep(package, limits, rows)
    return rows


_Read = TypeVar("_Read")  # what a part's reader makes of it


class _RecentReadings:
    """The last few workbooks read, each by the answers its package gave the
    reader (every part read, and whether each part asked about was there),
    and the last few parts of each kind read.

    A reading is a function of those answers and the limits alone, so a
    workbook whose package gives the same answers reads the same, whatever
    else in its zip differs. ICE republishes unchanged lists with only their
    document properties and zip dates changed: 23 of 2025's 391 files, each
    within a few files of its twin (the participating and pending lists
    alternate). Its answers are checked in the order the reader asked them,
    so a workbook that differs is read no further than the reader would
    have read it anyway (parts inflated here are handed on to that read),
    and fails on the same part with the same error.

    A list that did change mostly keeps some parts as they were: of 2025's
    391 lists, 238 have the styles of one of the four before, 88 the sheet's
    .rels (every link the same), 52 the shared strings. A part's reading is a
    function of its bytes alone, so those are not read again either.
    """

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._readings: list[tuple[Limits, list[tuple[str, bytes | bool]], list[list[Cell]]]] = []
        self._parts: dict[Callable, list[tuple[bytes, Any]]] = {}
        self._lock = threading.Lock()

    def of_part(self, read: Callable[[bytes, str], _Read], content: bytes, part: str) -> _Read:
        """``read(content, part)``, or what it gave lately for the same bytes
        (the callers only read what it gives)."""
        with self._lock:
            recent = self._parts.get(read, [])
        for known, result in recent:
            if known == content:
                return result
        result = read(content, part)
        if self.kept and len(content) <= _ANSWERS_MAX_BYTES:
            with self._lock:
                self._parts[read] = [(content, result), *self._parts.get(read, [])][:self.kept]
        return result

    def find(self, package: _Package, limits: Limits) -> list[list[Cell]] | None:
        with self._lock:
            readings = self._readings
        for reading_limits, answers, rows in readings:
            if reading_limits == limits and all(package.gives(name, answer) for name, answer in answers):
                return rows
        return None

    def keep(self, package: _Package, limits: Limits, rows: list[list[Cell]]) -> None:
        if package.answers is not None:
            with self._lock:
                self._readings = [(limits, package.answers, rows), *self._readings][:self.kept]


_RECENT_READINGS = _RecentReadings(kept=4)
_ANSWERS_MAX_BYTES = 8 * 1024 * 1024


# --- the zip container -------------------------------------------------------


class _Package:
    """The zip, opened only after sniffing, whose members are read under limits."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        _refuse_non_zip(data, limits)
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            raise WorkbookError(f"not an xlsx workbook (truncated or corrupt zip archive: {exc})") from exc
        self._limits = limits
        self._total = 0
        # Parts inflated by gives(), until read() takes them.
        self._inflated: dict[str, bytes] = {}
        # What the reader asked of this package, in order: each part read
        # with its bytes, each part asked about with whether it is there;
        # None once the parts read hold more than _ANSWERS_MAX_BYTES (a huge
        # list is not held twice in memory for a twin that rarely comes).
        self.answers: list[tuple[str, bytes | bool]] | None = []
        self._answer_bytes = 0
        names = self._zip.namelist()
        self._by_lower = {name.lower(): name for name in names}
        if _WORKBOOK_PART.lower() not in self._by_lower:
            raise WorkbookError(f"not an xlsx workbook (zip has no {_WORKBOOK_PART}{_guess_package(names)})")

    def has(self, name: str) -> bool:
        found = self._has(name)
        if self.answers is not None:
            self.answers.append((name, found))
        return found

    def read(self, name: str) -> bytes:
        content = self._inflated.pop(name, None)
        if content is None:
            content = self._inflate(name)
        if self.answers is not None:
            self._answer_bytes += len(content)
            if self._answer_bytes > _ANSWERS_MAX_BYTES:
                self.answers = None
            else:
                self.answers.append((name, content))
        return content

    def gives(self, name: str, answer: bytes | bool) -> bool:
        """Whether this package gives ``answer`` (an earlier reading's, see
        ``answers``) about part ``name``; raises WorkbookError as read() does."""
        if isinstance(answer, bool):
            return self._has(name) is answer
        if name not in self._inflated:
            self._inflated[name] = self._inflate(name)
        return self._inflated[name] == answer

    def _has(self, name: str) -> bool:
        # Part names are case-insensitive in OPC; zip names are not.
        return name.lower() in self._by_lower

    def _inflate(self, name: str) -> bytes:
        """A member's bytes, checked against the limits before inflating and
        capped while inflating, so a lying header cannot make us inflate more."""
        actual = self._by_lower.get(name.lower())
        if actual is None:
            raise WorkbookError(f"workbook part missing: {name}")
        info = self._zip.getinfo(actual)
        self._check(info)
        try:
            with self._zip.open(info) as member:
                content = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise WorkbookError(f"corrupt zip member {name}: {exc}") from exc
        if len(content) != info.file_size:
            raise WorkbookError(f"zip member {name} does not match its declared size")
        return content

    def _check(self, info: zipfile.ZipInfo) -> None:
        limits, name = self._limits, info.filename
        if info.flag_bits & 0x1:
            raise WorkbookError(f"zip member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WorkbookError(f"zip member {name} uses unsupported compression method {info.compress_type}")
        if info.file_size > limits.max_member_bytes:
            raise WorkbookError(f"zip member {name} too large: declares {human_size(info.file_size)} "
                                f"(limit {human_size(limits.max_member_bytes)})")
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise WorkbookError(f"zip member {name} looks like a zip bomb: compression ratio "
                                f"{ratio:.0f}:1 (limit {limits.max_ratio}:1)")
        self._total += info.file_size
        if self._total > limits.max_total_bytes:
            raise WorkbookError(f"workbook too large: parts read declare over {human_size(limits.max_total_bytes)}")


def _refuse_non_zip(data: bytes, limits: Limits) -> None:
    """Name what a download really is before zipfile gives a vaguer error:
    a server often answers with an HTML error page saved under the .xlsx name."""
    if not data:
        raise WorkbookError("not an xlsx workbook (empty file)")
    if len(data) > limits.max_file_bytes:
        raise WorkbookError(f"file too large: {human_size(len(data))} (limit {human_size(limits.max_file_bytes)})")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n\x0c").startswith(b"<"):
        raise WorkbookError("not an xlsx workbook (looks like an HTML page)")
    if data.startswith(_OLE_MAGIC):
        raise WorkbookError("not an xlsx workbook (looks like a legacy .xls or a password-protected workbook)")
    if not data.startswith(b"PK"):
        raise WorkbookError("not an xlsx workbook (not a zip archive)")


def _guess_package(names: list[str]) -> str:
    for prefix, kind in _OTHER_PACKAGES:
        if any(name.startswith(prefix) for name in names):
            return f"; looks like {kind}"
    return ""


# --- XML --------------------------------------------------------------------

def _elements(content: bytes, part: str, root_tag: str, wanted: Wanted) -> Iterator[etree._Element]:
    """The wanted elements of a part, complete and in document order.

    A DTD is refused (a workbook part never needs one; entities are never
    expanded meanwhile), and so is a part whose root is not ``root_tag``.
    """
    # Found before parsing, a DTD gets one clear refusal instead of whichever
    # libxml2 limit it trips; the parsed doctype is checked too (UTF-16 parts).
    if b"<!DOCTYPE" in content:
        raise _dtd_refused(part)
    if len(content) > _TREE_MAX_BYTES:
        yield from _stream_large(content, part, root_tag, wanted)
        return
    # A whole tree parses ~30% faster than a pull parser, and at this size
    # costs at most ~50 MB.
    try:
        root = etree.fromstring(content, etree.XMLParser(**_XML_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise WorkbookError(f"malformed XML in {part}: {exc}") from exc
    _check_root(root, part, root_tag)
    yield from _complete(root, len(root), wanted)


def _complete(root: etree._Element, count: int, wanted: Wanted) -> Iterator[etree._Element]:
    """The wanted elements among the root's first ``count`` children (all
    complete) and their children: two flat loops, nothing deleted."""
    top = wanted[root.tag]
    for child in root[:count] if count < len(root) else root:
        tag = child.tag
        if tag in top:
            yield child
            continue
        items = wanted.get(tag)
        if items:
            for item in child:
                if item.tag in items:
                    yield item


def _stream_large(content: bytes, part: str, root_tag: str, wanted: Wanted) -> Iterator[etree._Element]:
    """Feed a pull parser in chunks and, after each chunk, hand over and
    delete every complete element, so memory stays flat whatever the part
    holds (iterparse's tag filter would let unwanted elements, say a padded
    mergeCells, pile up)."""
    parser = etree.XMLPullParser(events=("start",), tag=root_tag, **_XML_OPTIONS)
    root = pending = None
    pending_since = 0
    try:
        for offset in range(0, len(content), _CHUNK_BYTES):
            parser.feed(content[offset:offset + _CHUNK_BYTES])
            if root is None:
                root = next((elem for _, elem in parser.read_events()), None)
                if root is None:
                    if offset >= _PROLOG_MAX_BYTES:
                        raise _unexpected_root(part, root_tag)
                    continue
                _check_root(root, part, root_tag)
            # Only the root's last child can still be open.
            done = len(root) - 1
            if done > 0:
                yield from _complete(root, done, wanted)
                del root[:done]
            open_wanted = yield from _drain_open(root, wanted)
            if open_wanted is not pending:
                pending, pending_since = open_wanted, offset
            elif pending is not None and offset - pending_since > _MAX_ELEMENT_BYTES:
                raise WorkbookError(f"XML element too large in {part}: over {human_size(_MAX_ELEMENT_BYTES)}")
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise WorkbookError(f"malformed XML in {part}: {exc}") from exc
    if root is None:
        raise _unexpected_root(part, root_tag)
    yield from _complete(root, len(root), wanted)


def _drain_open(root: etree._Element, wanted: Wanted) -> Generator[etree._Element, None, etree._Element | None]:
    """While parsing: hand over and delete what is complete inside the root's
    last child, which may still be open. Returns the wanted element still
    open, if any (the caller bounds how long it may stay open)."""
    if not len(root):
        return None
    last = root[-1]
    if last.tag in wanted[root.tag]:
        return last
    items = wanted.get(last.tag)
    if not items:
        _prune(last)
        return None
    done = len(last) - 1
    if done > 0:
        for item in last[:done]:
            if item.tag in items:
                yield item
        del last[:done]
    if not len(last):
        return None
    if last[-1].tag in items:
        return last[-1]
    _prune(last[-1])
    return None


def _prune(node: etree._Element) -> None:
    """Delete the complete descendants of an open element nobody reads: at
    each level all children but the last, which may still be open."""
    while len(node):
        if len(node) > 1:
            del node[:-1]
        node = node[0]


def _check_root(root: etree._Element, part: str, root_tag: str) -> None:
    if root.getroottree().docinfo.doctype:
        raise _dtd_refused(part)
    if root.tag != root_tag:
        raise _unexpected_root(part, root_tag)


def _dtd_refused(part: str) -> WorkbookError:
    return WorkbookError(f"refused {part}: it declares a DTD (entity expansion risk)")


def _unexpected_root(part: str, root_tag: str) -> WorkbookError:
    return WorkbookError(f"unexpected content in {part} (no {etree.QName(root_tag).localname} element)")


# (Id, Type, Target, TargetMode) of one relationship, as stored; Type and
# Target "" when absent.
Relationship = tuple[str | None, str, str, str | None]


def _relationships(package: _Package, part: str) -> list[Relationship]:
    """The relationships of ``part``'s .rels, if it has one."""
    rels = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if not package.has(rels):
        return []
    return _RECENT_READINGS.of_part(_read_relationships, package.read(rels), rels)


def _read_relationships(content: bytes, part: str) -> list[Relationship]:
    plain = _read_plain_relationships(content)
    if plain is not None:
        return plain
    return [(rel.get("Id"), rel.get("Type", ""), rel.get("Target", ""), rel.get("TargetMode"))
            for rel in _elements(content, part, _RELATIONSHIPS, {_RELATIONSHIPS: frozenset([_REL])})]


def _resolve(source_part: str, target: str) -> str:
    """A relationship target as a zip member name (relative to the source part's folder)."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


# --- workbook, shared strings, styles -----------------------------------------


@dataclass
class _Book:
    sheet_part: str
    date1904: bool
    shared_strings: list[str]
    date_styles: frozenset[str]  # cellXfs indexes (as in the s= attribute) that display dates


def _read_book(package: _Package) -> _Book:
    sheet_ids, date1904 = _read_workbook(package.read(_WORKBOOK_PART))
    parts: dict[str | None, tuple[str, str]] = {}
    for rid, rel_type, target, mode in _relationships(package, _WORKBOOK_PART):
        if mode != "External":
            parts[rid] = (rel_type, _resolve(_WORKBOOK_PART, target))
    sheet_part = next((parts[rid][1] for rid in sheet_ids
                       if rid in parts and parts[rid][0].endswith("/worksheet")), None)
    if sheet_part is None:
        raise WorkbookError("no worksheet in workbook")
    # Both parts are optional: a sheet may hold no shared strings and no styles.
    by_type = {rel_type.rsplit("/", 1)[-1]: target for rel_type, target in parts.values()
               if package.has(target)}
    strings_part, styles_part = by_type.get("sharedStrings"), by_type.get("styles")
    return _Book(
        sheet_part=sheet_part,
        date1904=date1904,
        shared_strings=(_RECENT_READINGS.of_part(_read_shared_strings, package.read(strings_part), strings_part)
                        if strings_part else []),
        date_styles=(_RECENT_READINGS.of_part(_read_date_styles, package.read(styles_part), styles_part)
                     if styles_part else frozenset()),
    )


def _read_workbook(content: bytes) -> tuple[list[str], bool]:
    """Relationship ids of the sheets in workbook order, and the date system."""
    sheet_ids: list[str] = []
    date1904 = False
    wanted = {_WORKBOOK: frozenset([_WORKBOOK_PR]), _SHEETS: frozenset([_SHEET])}
    for elem in _elements(content, _WORKBOOK_PART, _WORKBOOK, wanted):
        if elem.tag == _SHEET:
            sheet_ids.append(elem.get(_R_ID, ""))
        else:
            date1904 = elem.get("date1904", "").lower() in ("1", "true")
    return sheet_ids, date1904


def _read_shared_strings(content: bytes, part: str) -> list[str]:
    plain = _read_plain_shared_strings(content)
    if plain is not None:
        return plain
    return [_text_of(si) for si in _elements(content, part, _SST, {_SST: frozenset([_SI])})]


def _text_of(string_item: etree._Element) -> str:
    """A string item's text: plain <t>, or rich text runs concatenated; the
    phonetic guide (<rPh>) is not part of the value."""
    if len(string_item) == 1 and string_item[0].tag == _T:  # plain text, by far the most common
        return _unescape(string_item[0].text or "")
    parts = []
    for child in string_item:
        if child.tag == _T:
            parts.append(child.text or "")
        elif child.tag == _RUN:
            parts.extend(t.text or "" for t in child.iterchildren(_T))
    return _unescape("".join(parts))


def _unescape(text: str) -> str:
    """Decode the _xHHHH_ escapes Excel writes for characters XML cannot hold
    (e.g. _x000D_ for a carriage return); _x005F_ escapes a literal underscore."""
    if "_x" not in text:
        return text
    return _XSTRING_ESCAPE.sub(_unescape_match, text)


def _unescape_match(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


def _read_date_styles(content: bytes, part: str) -> frozenset[str]:
    """The cell styles whose number format shows a date: a date is stored as
    a plain number, and only its style says it is one."""
    custom: dict[int, str] = {}
    date_styles: set[str] = set()
    # numFmt elements also occur inside <dxfs> (conditional formats): only
    # the <numFmts> table defines the ids cellXfs refer to.
    for elem in _elements(content, part, _STYLE_SHEET, {_STYLE_SHEET: frozenset([_NUM_FMTS, _CELL_XFS])}):
        if elem.tag == _NUM_FMTS:
            custom.update((int(fmt.get("numFmtId", "0")), fmt.get("formatCode", ""))
                          for fmt in elem.iterchildren(_MAIN + "numFmt"))
            continue
        for index, xf in enumerate(elem.iterchildren(_MAIN + "xf")):
            format_id = int(xf.get("numFmtId", "0"))
            is_date = _is_date_code(custom[format_id]) if format_id in custom else format_id in _BUILTIN_DATE_FORMATS
            if is_date:
                date_styles.add(str(index))
    return frozenset(date_styles)


def _is_date_code(code: str) -> bool:
    return not _DATE_CODES.isdisjoint(_FORMAT_LITERALS.sub("", code))


# --- the worksheet ----------------------------------------------------------


def _read_sheet(content: bytes, book: _Book, limits: Limits) -> tuple[_Grid, list[tuple[str, str]]]:
    """Cells by row, and the (ref, relationship id) of each external hyperlink."""
    if b"<!DOCTYPE" in content:
        raise _dtd_refused(book.sheet_part)
    plain = _read_plain_sheet(content, book, limits)
    if plain is not None:
        return plain
    grid = _Grid(limits)
    links: list[tuple[str, str]] = []
    cells = _Cells(book)
    row_number = 0
    for elem in _elements(content, book.sheet_part, _WORKSHEET, _SHEET_WANTED):
        if elem.tag == _ROW:
            number = elem.get("r")
            row_number = int(number) if number else row_number + 1
            row = _read_row(elem, cells, limits)
            if row:
                grid.add_row(row_number, row)
        else:
            _add_link(links, elem)
    return grid, links


def _add_link(links: list[tuple[str, str]], hyperlink: etree._Element) -> None:
    rid = hyperlink.get(_R_ID)
    if rid:  # location-only links point inside the workbook
        links.append((hyperlink.get("ref", ""), rid))


class _Grid:
    """The sheet's rows, dense: ``rows[i]`` is sheet row i+1. Blank rows
    share one empty list until written, so a far-off row costs a pointer per
    row skipped, not a list. Counts the rows that hold a value against the
    data-row limit as they fill."""

    def __init__(self, limits: Limits) -> None:
        self.rows: list[list[Cell]] = []
        self._limits = limits
        self._filled = 0

    def add_row(self, number: int, cells: list[Cell]) -> None:
        if number == len(self.rows) + 1:  # the next row, as rows mostly come
            self._filled += 1
            if self._filled - 1 > self._limits.max_rows:
                self._refuse_rows()
            self.rows.append(cells)
            return
        row = self._slot(number)
        if row:  # a repeated row number: merge, as Excel would show one row
            for column, cell in enumerate(cells, 1):
                if cell is not _EMPTY:
                    _put(row, column, cell)
        else:
            self._fill(number, cells)

    def writable_row(self, number: int) -> list[Cell]:
        """Row ``number``, to put cells in (a blank row becomes a filled one)."""
        return self._slot(number) or self._fill(number, [])

    def _slot(self, number: int) -> list[Cell]:
        if not 0 < number <= _MAX_SHEET_ROWS:
            raise WorkbookError(f"bad row number {number}")
        missing = number - len(self.rows)
        if missing > 0:
            self.rows.extend([_BLANK_ROW] * missing)
        return self.rows[number - 1]

    def _fill(self, number: int, cells: list[Cell]) -> list[Cell]:
        self._filled += 1
        if self._filled - 1 > self._limits.max_rows:
            self._refuse_rows()
        self.rows[number - 1] = cells
        return cells

    def _refuse_rows(self) -> None:
        # The first row with a value is the header; every later one is a data row.
        raise WorkbookError(f"sheet too large: more than {self._limits.max_rows} data rows")


def _read_row(row: etree._Element, cells: _Cells, limits: Limits) -> list[Cell]:
    """The row's cells by column, up to its last cell with a value. The
    common case is inlined: a <v> as the last child (after any <f>), cells in
    column order."""
    found: list[Cell] = []
    column = 0
    # Plain iteration is twice as fast as iterchildren(_C); the only other
    # children a row may have (extLst, comments) carry no r= and no <v>.
    for c in row:
        ref = c.get("r")
        if ref:
            column = _COLUMNS.get(ref.rstrip(_DIGITS)) or _column(ref)
        elif c.tag == _C:
            column += 1
        else:
            continue
        if not len(c):
            continue  # formatting only
        value = c[-1]
        if value.tag == _V:
            text = value.text
            if not text:
                continue
            cell = cells.of(c.get("t"), c.get("s"))[text]
        else:
            cell = _read_other_cell(c, cells.book)
            if cell is None:
                continue
        if column == len(found) + 1:
            found.append(cell)
        else:
            _put(found, column, cell)
    _check_column(len(found), limits)
    return found


def _read_other_cell(c: etree._Element, book: _Book) -> Cell | None:
    """The uncommon cells: an inline string, a formula with no cached
    value, or a <v> followed by an extLst."""
    kind = c.get("t")
    if kind == "inlineStr":
        inline = next(c.iterchildren(_IS), None)
        return None if inline is None else Cell(_text_of(inline))
    value = next(c.iterchildren(_V), None)
    text = None if value is None else value.text
    if not text:
        return None
    if not kind or kind == "n":
        return Cell(_value(c.get("s") in book.date_styles, text, book))
    return Cell(_value(kind, text, book))


class _ValueCells(dict[str, Cell]):
    """The Cell of each raw <v> text of one kind of value, made on first
    sight and shared after: ICE's lists repeat the same few values (state,
    model, "link") thousands of times. No text, empty (a <v/>) or none at
    all (a cell with formatting only), gives _EMPTY, as the gap it leaves
    would."""

    def __init__(self, kind: object, book: _Book) -> None:
        super().__init__({"": _EMPTY, None: _EMPTY})
        self._kind = kind
        self._book = book

    def __missing__(self, text: str) -> Cell:
        cell = self[text] = _CANONICAL_CELLS.of(_new_cell(Cell, (_value(self._kind, text, self._book), None)))
        return cell


class _CanonicalCells:
    """One Cell object for all equal cells of the workbooks read in this
    process, so that a row listed again is made of the very cells of its
    earlier listing: the roster, which remembers rows by their cells, then
    compares them by identity instead of reaching into an older list's
    values. A year of ICE's lists holds 1.1 million cells but only about
    2,000 distinct values and 1,500 distinct linked cells.

    Cells are kept by the type of their value, since Cell(1), Cell(True)
    and Cell(1.0) are equal but not alike (the reader's values have five
    types, so the dicts are few); each dict holds at most ``kept`` cells
    and starts over when full.
    """

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._by_type: dict[type, dict[Cell, Cell]] = {}

    def of(self, cell: Cell) -> Cell:
        """The kept cell equal to ``cell`` (``cell`` itself, kept, if none is)."""
        cells = self._by_type.get(cell.value.__class__)
        if cells is None:
            cells = self._by_type.setdefault(cell.value.__class__, {})
        elif len(cells) >= self._kept:
            cells.clear()
        return cells.setdefault(cell, cell)


_CANONICAL_CELLS = _CanonicalCells(kept=8192)


class _Cells:
    """A sheet's _ValueCells, one per kind of value: a shared string's index
    means the same whatever the cell's style, a number's only depends on
    whether its style shows a date, any other value's on its type."""

    def __init__(self, book: _Book) -> None:
        self.book = book
        self._by_kind: dict[object, _ValueCells] = {}

    def of(self, kind: str | None, style: str | None) -> _ValueCells:
        """The cells of values stored with this t= and s=."""
        key = kind if kind and kind != "n" else style in self.book.date_styles
        cells = self._by_kind.get(key)
        if cells is None:
            cells = self._by_kind[key] = _ValueCells(key, self.book)
        return cells


def _value(kind: object, text: str, book: _Book) -> Value:
    """A cell's value from its type (True/False for numbers: date-styled or not)."""
    if kind is True or kind is False:
        number = _number(text)
        when = _to_datetime(number, book.date1904) if kind else None
        return number if when is None else when
    if kind == "s":
        index = int(text)
        if not 0 <= index < len(book.shared_strings):
            raise WorkbookError(f"shared string index {index} out of range")
        return book.shared_strings[index]
    if kind == "b":
        return text.strip().lower() in ("1", "true")
    if kind == "str":
        return _unescape(text)
    if kind == "d":
        return dt.datetime.fromisoformat(text)
    return text  # "e" (#N/A, #REF!...) and unknown types: the stored text


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise WorkbookError(f"bad number in a numeric cell: {text!r}") from None
    return int(number) if number.is_integer() else number


def _to_datetime(serial: int | float, date1904: bool) -> dt.datetime | None:
    """Excel serial to datetime, or None when no date has that serial. Time is
    rounded to the millisecond: serials carry float noise below that."""
    if not 0 <= serial <= _MAX_SERIAL:
        return None
    if date1904:
        epoch = _EPOCH_1904
    else:
        # Excel counts a 1900-02-29 that never was (serial 60): earlier serials are off by one.
        epoch = _EPOCH_1900 if serial >= 60 else _EPOCH_1900_EARLY
    days = int(serial)
    try:
        return epoch + dt.timedelta(days=days, milliseconds=round((serial - days) * 86_400_000))
    except OverflowError:
        return None


def _column(ref: str) -> int:
    """1-based column number of a reference like "B7"."""
    return _letters_to_number(ref.rstrip(_DIGITS))


def _letters_to_number(letters: str) -> int:
    if not (letters.isascii() and letters.isalpha() and len(letters) <= 3):
        raise WorkbookError(f"bad cell reference {letters!r}")
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


_COLUMNS = {name: number for number, name in enumerate(
    [chr(65 + i) for i in range(26)] + [chr(65 + i) + chr(65 + j) for i in range(26) for j in range(26)], 1)}


def _check_column(column: int, limits: Limits) -> None:
    if column > limits.max_cols:
        raise WorkbookError(f"sheet too large: more than {limits.max_cols} columns")


def _put(row: list[Cell], column: int, cell: Cell) -> None:
    if column > len(row):
        row.extend([_EMPTY] * (column - 1 - len(row)))
        row.append(cell)
    else:
        row[column - 1] = cell


# --- hyperlinks -------------------------------------------------------------


def _external_targets(package: _Package, sheet_part: str) -> dict[str | None, str]:
    return {rid: target for rid, _, target, mode in _relationships(package, sheet_part) if mode == "External"}


def _apply_hyperlinks(grid: _Grid, links: Iterable[tuple[str, str]], targets: dict[str, str],
                      limits: Limits) -> None:
    """Set each linked cell's hyperlink, creating the cell if it has no value."""
    # Overlapping ranges must not multiply the work past the largest sheet allowed.
    budget = limits.max_rows * limits.max_cols
    for ref, rid in links:
        target = targets.get(rid)
        if target is None:
            continue  # dangling or internal relationship: no address to report
        first_row, first_col, last_row, last_col = _range(ref)
        _check_column(last_col, limits)
        budget -= (last_row - first_row + 1) * (last_col - first_col + 1)
        if budget < 0:
            raise WorkbookError("sheet too large: too many hyperlinked cells")
        if first_row == last_row and first_col == last_col:  # one cell, as nearly every link
            row = grid.writable_row(first_row)
            if first_col > len(row):
                _put(row, first_col, _CANONICAL_CELLS.of(_new_cell(Cell, (None, target))))
            else:
                row[first_col - 1] = _CANONICAL_CELLS.of(_new_cell(Cell, (row[first_col - 1].value, target)))
            continue
        linked_blank = Cell(None, target)  # shared by the range's blank cells
        for row_number in range(first_row, last_row + 1):
            row = grid.writable_row(row_number)
            for column in range(first_col, last_col + 1):
                if column > len(row):
                    _put(row, column, linked_blank)
                else:
                    value = row[column - 1].value
                    row[column - 1] = linked_blank if value is None else Cell(value, target)


def _range(ref: str) -> tuple[int, int, int, int]:
    """(first row, first column, last row, last column) of "G5" or "G5:H6"."""
    first, _, last = ref.partition(":")
    row1, col1 = _position(first)
    if not last:
        return row1, col1, row1, col1
    row2, col2 = _position(last)
    return min(row1, row2), min(col1, col2), max(row1, row2), max(col1, col2)


def _position(ref: str) -> tuple[int, int]:
    """(row, column) of a reference like "G5"."""
    letters = ref.rstrip(_DIGITS)
    row = int(ref[len(letters):] or 0)
    if row < 1:
        raise WorkbookError(f"bad cell reference {ref!r}")
    return row, _COLUMNS.get(letters) or _letters_to_number(letters)


# --- Excel's plain form -------------------------------------------------------
#
# Excel writes the large parts of a list in one plain form: the sheetData's
# <row> elements of <c r="B7" s=".." t=".."> cells, each empty or a <v>
# after an optional <f>; the <hyperlinks> block; the sheet's .rels, with one
# <Relationship Id Type Target TargetMode> per link; and sharedStrings' plain
# <si><t>..</t></si> items. Tokenising exactly that form with a regular
# expression reads them several times faster than lxml building a tree.
#
# Each fast path cuts its run of items (the body) out of the part, puts an
# empty placeholder element in its place, and has lxml parse what remains:
# the root, namespaces, encoding and well-formedness of everything but the
# body. It reads the body only if
# * the body is nothing but items of the plain form and whitespace: markup
#   the expressions accept is well-formed on its own, refers to no prefix or
#   namespace the root does not declare, and holds only the characters and
#   references (&amp; &#39;...) XML allows, decoded as lxml decodes them;
# * no comment, CDATA section or processing instruction opens before a
#   placeholder (only the XML declaration may precede it), so the
#   placeholder is an element where the body's items stood;
# * the placeholder is the only element of its name in the remaining tree,
#   and a child of the root: the body's items are what the general reader
#   would have read there.
# Anything else (inline strings, a formula with no cached value, rich text,
# another attribute or attribute order, a prefix, a CR, a part not in UTF-8
# or over _TREE_MAX_BYTES around its body) sends the part to the general
# reader, which reads every form and gives any error its precise message.


class _NotPlain(Exception):
    """A fast path met something outside the plain form: read the part through lxml."""


# Characters XML forbids (CR aside: it is allowed but read as LF, so left to lxml).
_FORBIDDEN = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff"
_REFERENCE_NAME = r"(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6})"
_REFERENCES = re.compile(rf"&({_REFERENCE_NAME});")
_NAMED_REFERENCES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# The items of hyperlinks, .rels and sharedStrings, and the formulas and
# values of cells, are matched loosely (a value is [^"]*, a text [^<]*:
# faster than a class of what XML allows), then each slice is checked as a
# whole, with scans far cheaper than the regular expression's, for what the
# loose match lets through: bytes of characters XML forbids or changes
# (tabs and line ends in attribute values become spaces; CR LF becomes LF),
# "]]>" in text, a "&" that starts no reference (in sheetData, any "&":
# cells with references are rare), and, in attribute values, a "<"
# (counted: each item holds exactly one).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_UNPLAIN_BYTES_IN_TEXT = _CONTROL_BYTES + b"\r"
_UNPLAIN_BYTES_IN_ATTRIBUTES = _CONTROL_BYTES + b"\t\n\r"
_NONCHARACTERS_UTF8 = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF
_BAD_REFERENCE = re.compile(rf"&(?!{_REFERENCE_NAME};)")
_CHARACTER_REFERENCES = re.compile(r"&#(x[0-9a-fA-F]+|[0-9]+);")
_XML_DECLARATION = b"<?xml "
_UTF8_BOM = b"\xef\xbb\xbf"
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
_R_NAMESPACE = etree.QName(_R_ID).namespace

# A cell: column letters, its s= and t= attributes, its value ("" if none).
# Only cells are matched: re skips to the next '<c r="' at C speed, and
# split() hands over what lies between two cells (row tags, whitespace, or
# something outside the plain form) for _PlainRows to read.
_PLAIN_CELL = re.compile(
    r'<c r="([A-Z]{1,3})[0-9]{1,7}"((?: s="[0-9]{1,9}")?(?: t="[a-zA-Z]{1,9}")?)'
    r"(?:/>|>(?:<f>[^<]*</f>)?<v>([^<]*)</v></c>)")
_CELL_ATTRIBUTES = re.compile(r'(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?')
# What may stand between cells: a row's end, a row's start (or a whole empty
# row), whitespace; anything else is one character outside the plain form.
_ROW_START = rf'<row(?: [A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?="[^<>&"\t\n\r{_FORBIDDEN}]*")*/?>'
_ROW_TOKEN = re.compile(rf"(</row>)|({_ROW_START})|[ \t\r\n]+|(.)", re.DOTALL | re.ASCII)
_ROW_START_TAIL = re.compile(_ROW_START.removeprefix("<row"), re.ASCII)
_ROW_ATTRIBUTE = re.compile(r' ([^=]+)="([^"]*)"')
_PLAIN_HYPERLINK = re.compile(
    r'<hyperlink ref="([^"]*)"(?: r:id="([^"]*)")?(?: location="[^"]*")?(?: display="[^"]*")?'
    r'(?: tooltip="[^"]*")?(?: xr:uid="[^"]*")?/>')
_PLAIN_RELATIONSHIP = re.compile(
    r'<Relationship Id="([^"]*)" Type="([^"]*)" Target="([^"]*)"(?: TargetMode="([^"]*)")?/>')
_PLAIN_STRING_ITEM = re.compile(r'<si><t(?: xml:space="preserve")?(?:/>|>([^<]*)</t>)</si>')


def _read_plain_sheet(content: bytes, book: _Book, limits: Limits) -> tuple[_Grid, list[tuple[str, str]]] | None:
    """The sheet read through the fast path, or None if it is not in the plain form."""
    sheet_data = _element_span(content, b"<sheetData>", b"</sheetData>", 0)
    if sheet_data is None:
        return None
    cuts = [(*sheet_data, b"<sheetData/>")]
    links = None
    hyperlinks = _element_span(content, b"<hyperlinks>", b"</hyperlinks>", sheet_data[1])
    if hyperlinks is not None:
        try:
            links = _read_plain_hyperlinks(content, hyperlinks[0] + len(b"<hyperlinks>"),
                                           hyperlinks[1] - len(b"</hyperlinks>"))
        except (_NotPlain, UnicodeDecodeError):
            pass  # left in place for lxml to read with the rest of the part
        else:
            cuts.append((*hyperlinks, b"<hyperlinks/>"))
    root = _parse_around(content, _WORKSHEET, cuts)
    if root is None or not _only_placeholder(root, _SHEET_DATA):
        return None
    if links is None:
        links = []
        for block in root.iterchildren(_HYPERLINKS):
            for hyperlink in block.iterchildren(_HYPERLINK):
                _add_link(links, hyperlink)
    elif not (_only_placeholder(root, _HYPERLINKS) and _prefixes_declared(content, *hyperlinks, root.nsmap)):
        return None
    try:
        grid = _read_plain_sheet_data(content, sheet_data[0] + len(b"<sheetData>"),
                                      sheet_data[1] - len(b"</sheetData>"), book, limits, root.nsmap)
    except (_NotPlain, UnicodeDecodeError):
        return None
    return grid, links


def _read_plain_sheet_data(content: bytes, start: int, end: int, book: _Book, limits: Limits,
                           namespaces: Mapping[str | None, str]) -> _Grid:
    """The rows of the sheetData body content[start:end]; raises _NotPlain."""
    grid = _Grid(limits)
    cells_by_attributes = _CellsByAttributes(_Cells(book))
    rows = _PlainRows(grid, limits, namespaces)
    for chunk in _slices(content, start, end, b"</row>"):
        # Formulas and values are matched loosely (see _PLAIN_CELL); what
        # that lets through is refused here for the whole slice.
        if b"&" in chunk or b"]]>" in chunk or _has_unplain_bytes(chunk, _UNPLAIN_BYTES_IN_TEXT):
            raise _NotPlain
        pieces = _PLAIN_CELL.split(chunk.decode("utf-8"))
        letters, attributes, values, betweens = pieces[1::4], pieces[2::4], pieces[3::4], pieces[4::4]
        try:
            # Every cell of the slice, at C speed.
            found = list(map(_cell_of_text, map(cells_by_attributes.__getitem__, attributes), values))
        except WorkbookError:
            found = None  # a bad value: looked up row by row below, so the first fault is the one reported
        cells = rows.between_cells(pieces[0])  # the open row's
        # Cells of one row stand side by side; rows end where something stands between.
        ends = list(itertools.compress(range(1, len(values) + 1), betweens))
        if values and not betweens[-1]:
            ends.append(len(values))  # cells up to the slice's end: outside the plain form, see finish()
        first = 0
        for last in ends:
            if found is None:
                row = [cells_by_attributes[attribute][value]
                       for attribute, value in zip(attributes[first:last], values[first:last])]
            else:
                row = found[first:last]
            _place(cells, letters[first:last], row)
            if betweens[last - 1]:
                cells = rows.between_cells(betweens[last - 1])
            first = last
    rows.finish()
    return grid


_cell_of_text = dict.__getitem__
_COLUMN_NAMES = list(_COLUMNS)


def _place(cells: list[Cell], letters: list[str], found: list[Cell]) -> None:
    """Put the cells ``found`` in their columns (by letters) of the open row ``cells``."""
    if not cells and letters == _COLUMN_NAMES[:len(letters)]:
        # Columns A, B, C... in order, as Excel writes a row: taken whole,
        # up to the last with a value.
        while found and found[-1] is _EMPTY:
            found.pop()
        cells += found
        return
    for letter, cell in zip(letters, found):
        if cell is not _EMPTY:  # else formatting only, or an empty value
            column = _COLUMNS.get(letter) or _letters_to_number(letter)
            if column == len(cells) + 1:
                cells.append(cell)
            else:
                _put(cells, column, cell)


class _PlainRows:
    """The row structure of a plain sheetData, from what stands between its
    cells: opens and closes rows, numbers them, adds them to the grid."""

    def __init__(self, grid: _Grid, limits: Limits, namespaces: Mapping[str | None, str]) -> None:
        self._grid = grid
        self._limits = limits
        self._namespaces = namespaces
        # Where cells outside any row go: the general reader reads none of them.
        self._outside: list[Cell] = []
        self._open = self._outside
        self._number = 0
        # Row start tags already checked, from after their leading r="..":
        # Excel gives most rows the same attributes.
        self._checked: set[str] = set()

    def between_cells(self, text: str) -> list[Cell]:
        """Read ``text``, which stands between two cells; returns the cell
        list of the row open after it."""
        if text.startswith('</row><row r="') and text.count("<") == 2:
            # One row ends and the next starts, as between most cells that
            # are not in the same row: the same steps as _end() and
            # _start(), inlined, for a start tag already checked.
            cells = self._open
            close = text.find('"', len('</row><row r="'))
            number, tail = text[len('</row><row r="'):close], text[close + 1:]
            if cells is not self._outside and tail in self._checked and number.isascii() and number.isdigit():
                _check_column(len(cells), self._limits)
                if cells:
                    self._grid.add_row(self._number, cells)
                self._number = int(number)
                self._open = self._outside if tail.endswith("/>") else []
                return self._open
        for end_tag, start_tag, other in _ROW_TOKEN.findall(text):
            if end_tag:
                self._end()
            elif start_tag:
                self._start(start_tag)
            elif other:
                raise _NotPlain
        return self._open

    def finish(self) -> None:
        if self._open is not self._outside or self._outside:
            raise _NotPlain

    def _end(self) -> None:
        cells = self._open
        if cells is self._outside:
            raise _NotPlain
        _check_column(len(cells), self._limits)
        if cells:
            self._grid.add_row(self._number, cells)
        self._open = self._outside

    def _start(self, tag: str) -> None:
        if self._open is not self._outside:
            raise _NotPlain  # a row inside a row
        number = self._row_number(tag)
        self._number = self._number + 1 if number is None else number
        if not tag.endswith("/>"):
            self._open = []

    def _row_number(self, tag: str) -> int | None:
        """The r= of a <row> start tag, None if it has none; raises _NotPlain
        unless it is plain and its attributes are as lxml requires (unique
        names, declared prefixes, no namespace declaration)."""
        if tag.startswith('<row r="'):
            close = tag.find('"', len('<row r="'))
            number, tail = tag[len('<row r="'):close], tag[close + 1:]
            if tail in self._checked and number.isascii() and number.isdigit():
                return int(number)
        match = _ROW_START_TAIL.fullmatch(tag, len("<row"))
        if match is None:
            raise _NotPlain
        pairs = _ROW_ATTRIBUTE.findall(tag)
        names = [_expanded_name(name, self._namespaces) for name, _ in pairs]
        if len(set(names)) != len(names):
            raise _NotPlain  # a repeated attribute: malformed
        if pairs and pairs[0][0] == "r":
            self._checked.add(tag[tag.index('"', len('<row r="')) + 1:])
        number = dict(pairs).get("r")
        return int(number) if number else None


class _CellsByAttributes(dict[str, _ValueCells]):
    """The _ValueCells for a plain cell's attributes (' s="3" t="s"'), found on
    first sight: a list has a few dozen distinct ones."""

    def __init__(self, cells: _Cells) -> None:
        super().__init__()
        self._cells = cells

    def __missing__(self, attributes: str) -> _ValueCells:
        style, kind = _CELL_ATTRIBUTES.fullmatch(attributes).groups()
        found = self[attributes] = self._cells.of(kind, style)
        return found


def _expanded_name(name: str, namespaces: Mapping[str | None, str]) -> tuple[str | None, str]:
    """(namespace, local name) of an attribute; raises _NotPlain for a namespace
    declaration or an undeclared prefix."""
    prefix, _, local = name.rpartition(":")
    if not prefix:
        if name == "xmlns":
            raise _NotPlain
        return None, name
    if prefix == "xml":
        return _XML_NAMESPACE, local
    if prefix == "xmlns" or prefix not in namespaces:
        raise _NotPlain
    return namespaces[prefix], local


def _read_plain_hyperlinks(content: bytes, start: int, end: int) -> list[tuple[str, str]]:
    """(ref, relationship id) of each external link in the hyperlinks body
    content[start:end]; raises _NotPlain."""
    # Location-only links (no r:id) point inside the workbook.
    return [(ref, rid) for ref, rid in _grouped(_plain_items(_PLAIN_HYPERLINK, content, start, end, b'"/>'), 2) if rid]


def _prefixes_declared(content: bytes, start: int, end: int, namespaces: Mapping[str | None, str]) -> bool:
    """Whether the prefixed attributes _PLAIN_HYPERLINK accepts mean in
    content[start:end] what the general reader takes them for."""
    return ((content.find(b' r:id="', start, end) < 0 or namespaces.get("r") == _R_NAMESPACE)
            and (content.find(b' xr:uid="', start, end) < 0 or "xr" in namespaces))


def _read_plain_relationships(content: bytes) -> list[Relationship] | None:
    start = content.find(b"<Relationship ")
    last_end = content.find(b"/>", content.rfind(b"<Relationship "))
    if start < 0 or last_end < 0:
        return None
    end = last_end + len(b"/>")
    try:
        rels = list(_grouped(_plain_items(_PLAIN_RELATIONSHIP, content, start, end, b'"/>'), 4))
    except (_NotPlain, UnicodeDecodeError):
        return None
    root = _parse_around(content, _RELATIONSHIPS, [(start, end, b"<Relationship/>")])
    return rels if root is not None and _only_placeholder(root, _REL) else None


def _read_plain_shared_strings(content: bytes) -> list[str] | None:
    start = content.find(b"<si>")
    last_end = content.rfind(b"</si>")
    if start < 0 or last_end < start:
        return None
    end = last_end + len(b"</si>")
    try:
        strings = _plain_items(_PLAIN_STRING_ITEM, content, start, end, b"</si>")
    except (_NotPlain, UnicodeDecodeError):
        return None
    for index, text in enumerate(strings):
        if text is None:
            strings[index] = ""  # <t/>
        elif "_x" in text:
            strings[index] = _unescape(text)
    root = _parse_around(content, _SST, [(start, end, b"<si/>")])
    return strings if root is not None and _only_placeholder(root, _SI) else None


def _element_span(content: bytes, start_tag: bytes, end_tag: bytes, after: int) -> tuple[int, int] | None:
    """(start, end) of content from the first ``start_tag`` at or after
    ``after`` through the last ``end_tag``, if both are there."""
    start = content.find(start_tag, after)
    last = content.rfind(end_tag)
    return None if start < 0 or last < start + len(start_tag) else (start, last + len(end_tag))


def _plain_items(pattern: re.Pattern[str], content: bytes, start: int, end: int, closer: bytes) -> list[str | None]:
    """The groups of every item of ``pattern`` in content[start:end], in
    order (n values per item for a pattern of n groups, None for a group that
    did not take part), references replaced; raises _NotPlain unless that
    body is nothing but such items and whitespace. The body is read a slice
    at a time, cut after a ``closer``, which ends an item and occurs nowhere
    inside one."""
    values: list[str | None] = []
    step = pattern.groups + 1
    in_attributes = pattern is not _PLAIN_STRING_ITEM
    unplain_bytes = _UNPLAIN_BYTES_IN_ATTRIBUTES if in_attributes else _UNPLAIN_BYTES_IN_TEXT
    for chunk in _slices(content, start, end, closer):
        if _has_unplain_bytes(chunk, unplain_bytes):
            raise _NotPlain
        text = chunk.decode("utf-8")
        pieces = pattern.split(text)
        # split() puts what lies between the items at every step-th place.
        if "".join(pieces[::step]).strip(" \t\r\n"):
            raise _NotPlain
        if (in_attributes and text.count("<") != len(pieces) // step) or (not in_attributes and "]]>" in text):
            raise _NotPlain
        del pieces[::step]
        if "&" in text:
            if _BAD_REFERENCE.search(text) or ("&#" in text and not all(
                    _is_xml_char(_code_point(match[1])) for match in _CHARACTER_REFERENCES.finditer(text))):
                raise _NotPlain
            pieces = [_dereference(value) if value and "&" in value else value for value in pieces]
        values += pieces
    return values


def _has_unplain_bytes(chunk: bytes, unplain_bytes: bytes) -> bool:
    """Whether ``chunk`` holds any of ``unplain_bytes`` or a noncharacter."""
    return len(chunk.translate(None, unplain_bytes)) != len(chunk) or (
        not chunk.isascii() and any(bad in chunk for bad in _NONCHARACTERS_UTF8))


def _grouped(values: list[str | None], size: int) -> Iterator[tuple[str | None, ...]]:
    """_plain_items' values item by item."""
    return zip(*[iter(values)] * size)


def _slices(content: bytes, start: int, end: int, closer: bytes) -> Iterator[bytes]:
    """content[start:end], about _CHUNK_BYTES at a time, each slice ending
    just after a ``closer`` (which no plain item holds inside), so a long body
    never holds more than one slice's tokens at once."""
    while start < end:
        cut = content.find(closer, start + _CHUNK_BYTES, end)
        cut = end if cut < 0 else cut + len(closer)
        yield content[start:cut]
        start = cut


def _parse_around(content: bytes, root_tag: str, cuts: list[tuple[int, int, bytes]]) -> etree._Element | None:
    """lxml's tree of ``content`` with each cut (start, end, placeholder), in
    order, replaced by its placeholder; None unless that is a UTF-8 part of at
    most _TREE_MAX_BYTES with root ``root_tag`` in which no comment, CDATA
    section or processing instruction opens before a placeholder."""
    kept = []
    position = 0
    for start, end, placeholder in cuts:
        before = content[position:start]
        if position == 0:
            before = before.removeprefix(_UTF8_BOM)
            if before.startswith(_XML_DECLARATION):
                before = before[len(_XML_DECLARATION):]
        if b"<!" in before or b"<?" in before:
            return None
        kept += [content[position:start], placeholder]
        position = end
    kept.append(content[position:])
    rest = b"".join(kept)
    if len(rest) > _TREE_MAX_BYTES:
        return None
    try:
        root = etree.fromstring(rest, etree.XMLParser(**_XML_OPTIONS))
    except etree.XMLSyntaxError:
        return None
    tree = root.getroottree()
    if root.tag != root_tag or tree.docinfo.doctype or tree.docinfo.encoding.upper() != "UTF-8":
        return None
    return root


def _only_placeholder(root: etree._Element, tag: str) -> bool:
    """Whether the tree's only element named ``tag`` is a child of the root:
    the placeholder, where the body it stands for was."""
    found = list(root.iter(tag))
    return len(found) == 1 and found[0].getparent() is root


def _dereference(text: str) -> str:
    """Character data or an attribute value of the plain form with its
    references (all checked already) replaced, as lxml reports it."""
    if text.count("&") == text.count("&amp;"):  # a URL's query string, mostly
        return text.replace("&amp;", "&")
    return _REFERENCES.sub(_referenced, text)


def _referenced(match: re.Match[str]) -> str:
    name = match[1]
    return _NAMED_REFERENCES[name] if name[0] != "#" else chr(_code_point(name[1:]))


def _code_point(reference: str) -> int:
    """The character a numeric reference's "x41" or "65" stands for."""
    return int(reference[1:], 16) if reference[0] == "x" else int(reference)


def _is_xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
