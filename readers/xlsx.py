"""A minimal, safe SpreadsheetML (.xlsx) reader: the first worksheet's cells and hyperlinks.

Why not openpyxl: its full mode costs ~140 ms per ICE workbook and its fast
read-only mode drops cell hyperlinks, the only place ICE keeps MOA addresses.
Why not python-calamine (Rust, about 3x faster than this): it reads error
cells (#N/A) and formulas without a cached value as "", trims text, and
allocates a sheet's whole grid, so two far-apart cells in a 2 KB file abort
the process. This reads just the parts a list needs with ``zipfile`` and
lxml, under hard size limits, and reports every cell as openpyxl does; the
sheetData of Excel's own plain form goes through a faster tokeniser.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Generator, Iterable, Iterator, Mapping

from lxml import etree
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


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as stored: nothing trimmed, so callers can keep the raw value.
    Immutable, so equal values can share one instance."""

    value: Value
    hyperlink: str | None = None  # external target as stored (SafeLinks left wrapped)


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
# Every blank row of a result is this one list: results are read-only.
_BLANK_ROW: list[Cell] = []
_MAX_SHEET_ROWS = 1_048_576  # Excel's last row: a reference past it is not a cell
_SHEET_WANTED: Wanted = {_WORKSHEET: frozenset(), _SHEET_DATA: frozenset([_ROW]),
                         _HYPERLINKS: frozenset([_HYPERLINK])}


def read_first_sheet(data: bytes, limits: Limits = Limits()) -> list[list[Cell]]:
    """Rows of the workbook's first worksheet (in workbook order), as a dense
    list: ``rows[i]`` is sheet row i+1, each row a list of Cell by column with
    gaps filled by Cell(None); empty rows are [] and trailing ones dropped.
    The lists are the caller's to read, not to change (empty rows share one).

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
    book = _read_book(package)
    grid, links = _read_sheet(package.read(book.sheet_part), book, limits)
    if links:
        _apply_hyperlinks(grid, links, _external_targets(package, book.sheet_part), limits)
    return grid.rows


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
        names = self._zip.namelist()
        self._by_lower = {name.lower(): name for name in names}
        if _WORKBOOK_PART.lower() not in self._by_lower:
            raise WorkbookError(f"not an xlsx workbook (zip has no {_WORKBOOK_PART}{_guess_package(names)})")

    def has(self, name: str) -> bool:
        return name.lower() in self._by_lower

    def read(self, name: str) -> bytes:
        """A member's bytes, checked against the limits before inflating and
        capped while inflating, so a lying header cannot make us inflate more."""
        # Part names are case-insensitive in OPC; zip names are not.
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


def _relationships(package: _Package, part: str) -> Iterator[etree._Element]:
    """The Relationship elements of ``part``'s .rels, if it has one."""
    rels = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if package.has(rels):
        yield from _elements(package.read(rels), rels, _RELATIONSHIPS, {_RELATIONSHIPS: frozenset([_REL])})


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
    parts: dict[str, tuple[str, str]] = {}
    for rel in _relationships(package, _WORKBOOK_PART):
        if rel.get("TargetMode") != "External":
            parts[rel.get("Id")] = (rel.get("Type", ""), _resolve(_WORKBOOK_PART, rel.get("Target", "")))
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
        shared_strings=_read_shared_strings(package.read(strings_part), strings_part) if strings_part else [],
        date_styles=_read_date_styles(package.read(styles_part), styles_part) if styles_part else frozenset(),
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
    # ICE's lists repeat the same few values (state, model, "link") thousands
    # of times: one shared Cell per distinct raw value saves most of the work.
    memo: dict[object, Cell] = {}
    row_number = 0
    for elem in _elements(content, book.sheet_part, _WORKSHEET, _SHEET_WANTED):
        if elem.tag == _ROW:
            number = elem.get("r")
            row_number = int(number) if number else row_number + 1
            cells = _read_row(elem, book, memo, limits)
            if cells:
                grid.add_row(row_number, cells)
        else:
            _add_link(links, elem)
    return grid, links


def _add_link(links: list[tuple[str, str]], hyperlink: etree._Element) -> None:
    rid = hyperlink.get(_R_ID)
    if rid:  # location-only links point inside the workbook
        links.append((hyperlink.get("ref", ""), rid))


# Excel writes sheetData in one plain form: <row r=..> elements holding
# <c r="B7" s=".." t=".."> cells, each empty or with a <v> after an optional
# <f>, no entities. Tokenising exactly that form with one regular expression
# reads a list's cells more than twice as fast as building lxml's tree of them.
# Only the sheetData is read so; the rest of the part still goes through lxml
# (root, namespaces, encoding, well-formedness, hyperlinks). Anything outside
# the form (inline strings, a formula with no cached value, an entity, another
# attribute on a cell, a prefix, more than _TREE_MAX_BYTES outside the
# sheetData) sends the whole part to the general reader, which reads every form.
_SHEET_DATA_OPEN, _SHEET_DATA_CLOSE, _SHEET_DATA_EMPTY = b"<sheetData>", b"</sheetData>", b"<sheetData/>"
# Character data lxml would report unchanged: no markup, no entity, no CR
# (XML turns CR LF into LF) and no character XML forbids.
_PLAIN_TEXT = r"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f]*"
_PLAIN_TOKEN = re.compile(
    # a cell: column letters, style, type, value
    r'<c r="([A-Z]{1,3})[0-9]{1,7}"(?: s="([0-9]{1,9})")?(?: t="([a-zA-Z]{1,9})")?'
    r"(?:/>|>(?:<f>" + _PLAIN_TEXT + r"</f>)?<v>(" + _PLAIN_TEXT + r")</v></c>)"
    # a row's start (or a whole empty row): "row", its attributes, "/" if empty
    r'|<(row)((?: (?!xmlns)[A-Za-z_][\w.:-]*="[^"<&]*")*)(/?)>'
    # a row's end; whitespace between elements; anything else
    r"|(</row>)|[ \t\n]+|(.)", re.DOTALL)
_ROW_NUMBER = re.compile(r'(?<![^ ])r="([0-9]{1,7})"')
_PLAIN_REST_WANTED: Wanted = {_WORKSHEET: frozenset([_SHEET_DATA]), _HYPERLINKS: frozenset([_HYPERLINK])}


def _read_plain_sheet(content: bytes, book: _Book, limits: Limits) -> tuple[_Grid, list[tuple[str, str]]] | None:
    """The sheet read through the fast path, or None if it is not in the plain form."""
    start = content.find(_SHEET_DATA_OPEN)
    end = content.rfind(_SHEET_DATA_CLOSE)
    if start < 0 or end < start or content.count(b"<sheetData") != 1 or content.count(_SHEET_DATA_CLOSE) != 1:
        return None
    rest = content[:start] + _SHEET_DATA_EMPTY + content[end + len(_SHEET_DATA_CLOSE):]
    if len(rest) > _TREE_MAX_BYTES:
        return None
    try:
        root = etree.fromstring(rest, etree.XMLParser(**_XML_OPTIONS))
    except etree.XMLSyntaxError:
        return None  # the general reader gives the precise error
    _check_root(root, book.sheet_part, _WORKSHEET)
    if root.getroottree().docinfo.encoding.upper() != "UTF-8":
        return None
    links: list[tuple[str, str]] = []
    placeholders = 0
    for elem in _complete(root, len(root), _PLAIN_REST_WANTED):
        if elem.tag == _HYPERLINK:
            _add_link(links, elem)
        else:
            placeholders += 1
    if placeholders != 1:
        return None  # the sheetData is not the worksheet's own child in the main namespace
    try:
        grid = _read_plain_sheet_data(content, start + len(_SHEET_DATA_OPEN), end, book, limits)
    except UnicodeDecodeError:
        return None
    return None if grid is None else (grid, links)


def _plain_tokens(content: bytes, start: int, end: int) -> Iterator[tuple[str, ...]]:
    """The tokens of content[start:end], a slice of about _CHUNK_BYTES ending
    after a </row> at a time, so a long list never holds more than one slice's
    tokens. Raises UnicodeDecodeError for bytes that are not UTF-8."""
    while start < end:
        cut = content.find(b"</row>", start + _CHUNK_BYTES, end)
        cut = end if cut < 0 else cut + len("</row>")
        yield from _PLAIN_TOKEN.findall(content[start:cut].decode("utf-8"))
        start = cut


def _read_plain_sheet_data(content: bytes, start: int, end: int, book: _Book, limits: Limits) -> _Grid | None:
    grid = _Grid(limits)
    memo: dict[object, Cell] = {}
    row_number = 0
    cells: list[Cell] | None = None  # the open row's
    for letters, style, kind, text, row_start, attributes, empty, row_end, other in _plain_tokens(content, start, end):
        if letters:
            if cells is None:
                return None  # a cell outside a row
            if not text:
                continue  # formatting only, or an empty value
            column = _COLUMNS.get(letters) or _letters_to_number(letters)
            cell = _cached_cell(memo, book, kind, text, style)
            if column == len(cells) + 1:
                cells.append(cell)
            else:
                _put(cells, column, cell)
        elif row_start:
            number = _ROW_NUMBER.findall(attributes)
            if cells is not None or len(number) > 1:
                return None  # a row inside a row, or a row numbered twice
            row_number = int(number[0]) if number else row_number + 1
            if not empty:
                cells = []
        elif row_end:
            if cells is None:
                return None
            _check_column(len(cells), limits)
            if cells:
                grid.add_row(row_number, cells)
            cells = None
        elif other:
            return None
    return grid if cells is None else None


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
        # The first row with a value is the header; every later one is a data row.
        if self._filled - 1 > self._limits.max_rows:
            raise WorkbookError(f"sheet too large: more than {self._limits.max_rows} data rows")
        self.rows[number - 1] = cells
        return cells


def _read_row(row: etree._Element, book: _Book, memo: dict[object, Cell],
              limits: Limits) -> list[Cell]:
    """The row's cells by column, up to its last cell with a value. This runs
    for every cell of every list, hence the inlined common case: a <v> as the
    last child (after any <f>), cells in column order."""
    cells: list[Cell] = []
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
            cell = _cached_cell(memo, book, c.get("t"), text, c.get("s"))
        else:
            cell = _read_other_cell(c, book)
            if cell is None:
                continue
        if column == len(cells) + 1:
            cells.append(cell)
        else:
            _put(cells, column, cell)
    _check_column(len(cells), limits)
    return cells


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


def _cached_cell(memo: dict[object, Cell], book: _Book, kind: str | None, text: str, style: str | None) -> Cell:
    """The Cell of a <v> value, shared by every cell with the same raw value.
    Keys: a shared string's index (most cells) alone; a number's text with
    whether its style shows a date; any other value's text with its type."""
    if kind == "s":
        cell = memo.get(text)
        if cell is None:
            cell = memo[text] = Cell(_value(kind, text, book))
        return cell
    key = (kind, text) if kind and kind != "n" else (style in book.date_styles, text)
    cell = memo.get(key)
    if cell is None:
        cell = memo[key] = Cell(_value(key[0], text, book))
    return cell


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


def _external_targets(package: _Package, sheet_part: str) -> dict[str, str]:
    return {rel.get("Id"): rel.get("Target", "") for rel in _relationships(package, sheet_part)
            if rel.get("TargetMode") == "External"}


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
        linked_blank = Cell(None, target)
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
    digits = ref[len(letters):]
    if not digits or not digits.isascii() or int(digits) < 1:
        raise WorkbookError(f"bad cell reference {ref!r}")
    return int(digits), _COLUMNS.get(letters) or _letters_to_number(letters)
