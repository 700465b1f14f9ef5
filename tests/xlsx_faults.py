"""Build tiny and hostile .xlsx files in code for tests/test_xlsx.py.

Tiny workbooks are written part by part, so a test states exactly the XML
it feeds the reader; hostile ones start from a valid openpyxl workbook and
change one thing with zip surgery. Nothing large is ever written out.
"""

from __future__ import annotations

import io
import struct
import zipfile
from html import escape

from openpyxl import Workbook

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
</Types>"""
_ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PACKAGE_REL}"><Relationship Id="rId1" Target="xl/workbook.xml"
 Type="{REL}/officeDocument"/></Relationships>"""


def relationships(*rels: tuple[str, str, str, bool]) -> str:
    """A .rels part from (id, type suffix, target, external) tuples."""
    external_mode = ' TargetMode="External"'
    items = "".join(
        f'<Relationship Id="{rid}" Type="{REL}/{kind}" Target="{target}"{external_mode if external else ""}/>'
        for rid, kind, target, external in rels)
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PACKAGE_REL}">{items}</Relationships>'


def styles(cell_formats: list[int], custom: dict[int, str] | None = None) -> str:
    """styles.xml whose cellXfs[i] uses number format cell_formats[i]."""
    fmts = "".join(f'<numFmt numFmtId="{fid}" formatCode="{escape(code)}"/>'
                   for fid, code in (custom or {}).items())
    xfs = "".join(f'<xf numFmtId="{fid}" fontId="0" fillId="0" borderId="0"/>' for fid in cell_formats)
    return (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}">'
            f'<numFmts count="{len(custom or {})}">{fmts}</numFmts>'
            f'<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(cell_formats)}">{xfs}</cellXfs></styleSheet>')


def shared_strings(*items: str) -> str:
    """sharedStrings.xml from the inner XML of each <si>."""
    body = "".join(f"<si>{item}</si>" for item in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}" count="{len(items)}">{body}</sst>'


def worksheet(sheet_data: str, after: str = "") -> str:
    """A worksheet part: ``sheet_data`` is the content of <sheetData>, ``after`` what follows it."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
            f"<sheetData>{sheet_data}</sheetData>{after}</worksheet>")


def workbook_xml(sheet_ids: list[str], workbook_pr: str = "<workbookPr/>") -> str:
    sheets = "".join(f'<sheet name="S{n}" sheetId="{n}" r:id="{rid}"/>' for n, rid in enumerate(sheet_ids, 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            f"{workbook_pr}<sheets>{sheets}</sheets></workbook>")


def build_xlsx(sheet: str, *, strings: str | None = None, style: str | None = None,
               sheet_rels: str | None = None, workbook_pr: str = "<workbookPr/>",
               parts: dict[str, str | bytes | None] | None = None) -> bytes:
    """A one-sheet workbook from its parts; ``parts`` adds, replaces or (with
    None) removes any part."""
    book_rels = [("rId1", "worksheet", "worksheets/sheet1.xml", False)]
    if strings is not None:
        book_rels.append(("rId2", "sharedStrings", "sharedStrings.xml", False))
    if style is not None:
        book_rels.append(("rId3", "styles", "styles.xml", False))
    files: dict[str, str | bytes | None] = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": workbook_xml(["rId1"], workbook_pr),
        "xl/_rels/workbook.xml.rels": relationships(*book_rels),
        SHEET: sheet,
        SHARED_STRINGS: strings,
        "xl/styles.xml": style,
        "xl/worksheets/_rels/sheet1.xml.rels": sheet_rels,
    }
    files.update(parts or {})
    return zip_parts({name: content for name, content in files.items() if content is not None})


def zip_parts(parts: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


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
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
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
