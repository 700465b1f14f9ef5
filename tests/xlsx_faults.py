"""Build tiny and hostile .xlsx files in code for tests/test_xlsx.py.

Tiny workbooks are written part by part (watch287g/testing/xlsx_parts.py),
so a test states exactly the XML it feeds the reader; hostile ones start from a valid openpyxl workbook and
change one thing with zip surgery. Nothing large is ever written out.
"""

from __future__ import annotations

import io
import struct
import zipfile

from openpyxl import Workbook

from watch287g.testing.xlsx_parts import (  # noqa: F401  (the tests use them as faults.NAME)
    CONTENT_TYPES, MAIN, PACKAGE_REL, REL, ROOT_RELS, SHARED_STRINGS, SHEET, build_xlsx, relationships, shared_strings,
    styles, workbook_xml, worksheet, zip_parts)


def openpyxl_workbook(rows: list[list[object]]) -> bytes:
    """A small valid workbook as a real writer makes it (strings go to sharedStrings)."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replace_member(data: bytes, name: str, content: str | bytes, *,
                   compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The same zip with one member's content replaced (or added)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info))
        archive.writestr(name, content, compress_type=compression)
    return buffer.getvalue()


def zeros_member(data: bytes, name: str, size: int, compresslevel: int = 9) -> bytes:
    """The same zip with ``name`` replaced by ``size`` zero bytes, streamed in
    1 MB chunks so the uncompressed bytes never exist in memory or on disk."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info))
        with archive.open(name, "w", force_zip64=size >= 0xFFFFFFFF) as member:
            for start in range(0, size, len(chunk)):
                member.write(chunk[: min(len(chunk), size - start)])
    return buffer.getvalue()


def patch_central_directory(data: bytes, name: str, *, file_size: int | None = None,
                            flag_bits: int | None = None) -> bytes:
    """Make the central directory lie about one member: its uncompressed size
    (what a reader trusts before inflating) or its flags (e.g. encrypted)."""
    patched = bytearray(data)
    encoded = name.encode()
    position = patched.find(b"PK\x01\x02")
    while position != -1:
        name_length = struct.unpack_from("<H", patched, position + 28)[0]
        if patched[position + 46: position + 46 + name_length] == encoded:
            if file_size is not None:
                struct.pack_into("<I", patched, position + 24, file_size)
            if flag_bits is not None:
                struct.pack_into("<H", patched, position + 8, flag_bits)
            return bytes(patched)
        position = patched.find(b"PK\x01\x02", position + 4)
    raise KeyError(name)


def billion_laughs(levels: int = 10) -> str:
    """sharedStrings.xml whose one string would expand to 10**levels 'lol's."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)]
    return (f'<?xml version="1.0"?><!DOCTYPE sst [{"".join(entities)}]>'
            f'<sst xmlns="{MAIN}"><si><t>&lol{levels - 1};</t></si></sst>')


def external_entity() -> str:
    """sharedStrings.xml that tries to read a local file (XXE)."""
    return (f'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            f'<sst xmlns="{MAIN}"><si><t>&xxe;</t></si></sst>')


def html_page() -> bytes:
    """What a WAF answers instead of the file, saved under the .xlsx name."""
    return (b"\xef\xbb\xbf\r\n  <!DOCTYPE html><html><head><title>Access Denied</title></head>"
            b"<body><h1>Access Denied</h1>You don't have permission to access this resource.</body></html>")


def docx() -> bytes:
    """A Word document: a valid OOXML zip, but no workbook."""
    return zip_parts({
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "word/document.xml": '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
    })


def long_list(data_rows: int) -> bytes:
    """A participating list shaped like ICE's (STATE, AGENCY, SUPPORT TYPE,
    SIGNED as a date, MOA as a hyperlink on every tenth row) with
    ``data_rows`` rows under its header, written the way Excel writes them."""
    header = ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED", "MOA"]
    fixed = header + ["TEXAS", "Task Force Model", "link"]
    strings = [f"<t>{text}</t>" for text in fixed]
    first_agency = len(strings)
    strings += [f"<t>Agency {n} Sheriff's Office</t>" for n in range(data_rows)]
    state, model, link = (str(fixed.index(name)) for name in ("TEXAS", "Task Force Model", "link"))
    rows = ['<row r="1">' + "".join(f'<c r="{col}1" t="s"><v>{n}</v></c>' for n, col in enumerate("ABCDE"))
            + "</row>"]
    rows += [f'<row r="{r}"><c r="A{r}" t="s"><v>{state}</v></c><c r="B{r}" t="s"><v>{first_agency + r - 2}</v></c>'
             f'<c r="C{r}" t="s"><v>{model}</v></c><c r="D{r}" s="1"><v>{45000 + r % 700}</v></c>'
             f'<c r="E{r}" t="s"><v>{link}</v></c></row>' for r in range(2, data_rows + 2)]
    links = "".join(f'<hyperlink ref="E{r}" r:id="rId1"/>' for r in range(2, data_rows + 2, 10))
    sheet_rels = relationships(("rId1", "hyperlink", "https://www.ice.gov/doclib/287gMOA/moa.pdf", True))
    return build_xlsx(worksheet("".join(rows), f"<hyperlinks>{links}</hyperlinks>"),
                      strings=shared_strings(*strings), style=styles([0, 14]), sheet_rels=sheet_rels)
