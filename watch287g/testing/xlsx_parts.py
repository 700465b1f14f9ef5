"""Write small .xlsx workbooks part by part, so the XML a reader is fed is
exactly what the caller states: the tests' fault workbooks
(tests/xlsx_faults.py) and the benchmarks' synthetic lists
(benchmarks/bench_scale.py) are built with these."""

from __future__ import annotations

import io
import zipfile
from html import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
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
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
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
