"""The .xlsx reader: real ICE workbooks, Excel's value rules, and files built to hurt it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import tracemalloc
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import xlsx_faults as faults
from openpyxl import Workbook
from watch287g.readers import xlsx
from watch287g.readers.xlsx import Cell, Limits, WorkbookError, read_first_sheet

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "xlsx"
EARLIEST = "20250221T2149_participatingAgencies-20250221214937.xlsx"
PENDING = "20250221T2149_pendingAgencies-20250221214937.xlsx"
RESAVED = "20250301T1807_participatingAgencies-20250301180751.xlsx"
JULY = "20250711T0900_participatingAgencies07112025am.xlsx"
SWAPPED = "20250922T1600_participatingAgencies09222025pm.xlsx"

PARTICIPATING_2025_02 = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE", "SIGNED", "MOA"]
PARTICIPATING_2025_07 = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA",
                         "ADDENDUM"]
# Header, and manifest.csv's `rows` (non-empty data rows), of each fixture.
EXPECTED = {
    EARLIEST: (PARTICIPATING_2025_02, 151),
    PENDING: (["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "SUPPORT TYPE"], 41),
    RESAVED: (PARTICIPATING_2025_02, 239),
    JULY: (PARTICIPATING_2025_07, 805),
    SWAPPED: (["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE"], 42),
}
SAFELINK_COLBERT = (
    "https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib%2F287gMOA%2F"
    "ColbertCoSheriffsOfficeAL_WSO_MOA_05.08.25.pdf&data=05%7C02%7CERO287g%40ice.dhs.gov%7C"
    "062e3217bd974cfc3a9f08dda90bcb20%7C1b87612a306c49d681e697c6e1a9197f%7C0%7C0%7C638852590291873164%7C"
    "Unknown%7CTWFpbGZsb3d8eyJFbXB0eU1hcGkiOnRydWUsIlYiOiIwLjAuMDAwMCIsIlAiOiJXaW4zMiIsIkFOIjoiTWFpbCIsIl"
    "dUIjoyfQ%3D%3D%7C0%7C%7C%7C&sdata=dJltKswH6Cm2zi6O63a68dBaSMFaZdG4EwarN9xk00g%3D&reserved=0")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# The fast paths for Excel's plain form, by what they read.
FAST_PATHS = {"sheet": "_read_plain_sheet", "strings": "_read_plain_shared_strings",
              "relationships": "_read_plain_relationships"}


def general_only(monkeypatch) -> None:
    """Send every part to the general reader."""
    for name in FAST_PATHS.values():
        monkeypatch.setattr(xlsx, name, lambda *args: None)


@pytest.fixture(autouse=True)
def each_read_from_scratch(monkeypatch) -> None:
    """Tests read the same bytes several ways (fast paths, general reader):
    none may be given another's reading; the tests of that turn it on."""
    monkeypatch.setattr(xlsx, "_RECENT_READINGS", xlsx._RecentReadings(kept=0))


@pytest.fixture
def readings_kept(monkeypatch) -> None:
    """The readings of the last workbooks kept for a twin, as in production."""
    monkeypatch.setattr(xlsx, "_RECENT_READINGS", xlsx._RecentReadings(kept=4))


def read_alone(data: bytes, limits: Limits = Limits()) -> list[list[Cell]]:
    """``data`` read with no earlier reading to take."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xlsx, "_RECENT_READINGS", xlsx._RecentReadings(kept=0))
        return read_first_sheet(data, limits)


@pytest.fixture(params=["plain", "tree", "streamed"])
def parse_mode(request, monkeypatch) -> str:
    """Run a test each way the reader can read a part: Excel's plain form
    through the fast paths where it applies (in slices of a few items), and
    the general reader, whole and streamed (real parts are small enough to
    parse whole, so force the chunked streaming path too)."""
    if request.param == "plain":
        monkeypatch.setattr(xlsx, "_CHUNK_BYTES", 256)
    else:
        general_only(monkeypatch)
    if request.param == "streamed":
        monkeypatch.setattr(xlsx, "_TREE_MAX_BYTES", 0)
        monkeypatch.setattr(xlsx, "_CHUNK_BYTES", 4096)
    return request.param


@pytest.fixture
def fast_reads(monkeypatch) -> dict[str, list[bool]]:
    """For each fast path, whether each part it was offered so far went through it."""
    reads: dict[str, list[bool]] = {kind: [] for kind in FAST_PATHS}

    def spy(kind: str, fast_path):
        def spied(*args):
            result = fast_path(*args)
            reads[kind].append(result is not None)
            return result
        return spied

    for kind, name in FAST_PATHS.items():
        monkeypatch.setattr(xlsx, name, spy(kind, getattr(xlsx, name)))
    return reads


def values(rows: list[list[Cell]]) -> list[list[object]]:
    return [[cell.value for cell in row] for row in rows]


def data_rows(rows: list[list[Cell]]) -> int:
    return sum(1 for row in rows[1:] if any(cell.value is not None for cell in row))


def refused(data: bytes, limits: Limits = Limits()) -> str:
    """The one-line reason the reader gives for refusing ``data``."""
    with pytest.raises(WorkbookError) as info:
        read_first_sheet(data, limits)
    message = str(info.value)
    assert "\n" not in message and message == message.strip()
    return message


def refused_with_peak_memory(data: bytes) -> tuple[str, int]:
    """The refusal, and the most memory (bytes) Python held while reaching it."""
    tracemalloc.start()
    try:
        return refused(data), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- real ICE workbooks --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_workbook_header_and_row_count(name, parse_mode):
    header, count = EXPECTED[name]
    rows = read_first_sheet(fixture(name))
    assert values(rows[:1]) == [header]
    assert data_rows(rows) == count
    assert len(rows) == count + 1  # no blank rows inside, trailing blank rows dropped


def test_earliest_list_row_with_date_and_moa_link(parse_mode):
    rows = read_first_sheet(fixture(EARLIEST))
    assert rows[1] == [
        Cell("ALABAMA"), Cell("Etowah County Sheriff's Office"), Cell("County"), Cell("Jail Enforcement Model"),
        Cell(dt.datetime(2020, 6, 9)),
        Cell("link", "https://www.ice.gov/doclib/287gMOA/287gJEM_%20etowahCoAL_06-09-2020.pdf"),
    ]
    assert sum(1 for row in rows for cell in row if cell.hyperlink) == 132


def test_july_list_keeps_safelinks_odd_dates_and_raw_text(parse_mode):
    rows = read_first_sheet(fixture(JULY))
    assert rows[6][6] == Cell("link", SAFELINK_COLBERT)  # G7: wrapped, as stored
    addendum = rows[156][7]  # H157, under ADDENDUM; ICE's own spelling of the file name
    assert addendum.value == "link"
    assert addendum.hyperlink.startswith("https://gcc02.safelinks.protection.outlook.com/?url=https%3A%2F%2F"
                                         "www.ice.gov%2Fdoclib%2F287gMOA%2FhIllsboroughCountySherrifsOffice_WSO_MOA")
    grundy = rows[614]
    assert grundy[1] == Cell("Grundy County Sheriff's Office ")  # trailing space kept
    assert grundy[5] == Cell(dt.datetime(5025, 7, 7))  # ICE's typo is a valid serial
    assert rows[757][5] == Cell("05/082025")  # SIGNED typed as text
    assert rows[727][5] == Cell("7/72025")
    assert rows[-1][:2] == [Cell("WYOMING"), Cell("Sweetwater County Sheriff's Office")]


def test_pending_list_served_behind_the_participating_link(parse_mode):
    rows = read_first_sheet(fixture(SWAPPED))
    assert rows[1] == [Cell("ALABAMA"), Cell("Autauga County Sheriff's Office "), Cell("County "),
                       Cell("Autauga County"), Cell("Jail Enforcement Model ")]


def test_pending_list_keeps_curly_apostrophe(parse_mode):
    rows = read_first_sheet(fixture(PENDING))
    assert values(rows[-1:]) == [["WYOMING", "Sweetwater County Sheriff’s Office", "County",
                                  "Jail Enforcement Model"]]


def test_list_resaved_by_another_tool(parse_mode):
    # This capture was re-written by a non-Excel tool: other attribute order,
    # folder entries in the zip, reversed rows, and its hyperlinks are gone.
    rows = read_first_sheet(fixture(RESAVED))
    assert rows[1] == [Cell("WYOMING"), Cell("Campbell County Sheriff's Office"), Cell("County"),
                       Cell("Warrant Service Officer"), Cell(dt.datetime(2025, 2, 26)), Cell("link pending")]
    assert not any(cell.hyperlink for row in rows for cell in row)


# --- value rules -------------------------------------------------------------


def test_shared_strings_plain_rich_and_escaped(parse_mode):
    strings = faults.shared_strings(
        "<t>plain</t>",
        '<r><t>Rich </t></r><r><rPr><b/></rPr><t xml:space="preserve">text </t></r>'
        '<rPh sb="0" eb="1"><t>ルビ</t></rPh>',
        '<t xml:space="preserve">  padded  </t>',
        "<t/>",
        "<t>line_x000D__x000A_break</t>",
        "<t>literal _x005F_x0041_ and _xD800_</t>",
        '<t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="1"/>',
    )
    cells = "".join(f'<c r="{col}1" t="s"><v>{n}</v></c>' for n, col in enumerate("ABCDEFG"))
    rows = read_first_sheet(faults.build_xlsx(faults.worksheet(f'<row r="1">{cells}</row>'), strings=strings))
    assert values(rows) == [["plain", "Rich text ", "  padded  ", "", "line\r\nbreak",
                             "literal _x0041_ and _xD800_", "東京"]]


def test_inline_strings():
    sheet = faults.worksheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>inline</t></is></c>'
        '<c r="B1" t="inlineStr"><is><r><t>in</t></r><r><t>line rich</t></r></is></c>'
        '<c r="C1" t="inlineStr"/></row>')
    assert values(read_first_sheet(faults.build_xlsx(sheet))) == [["inline", "inline rich"]]


def test_numbers_booleans_errors_and_formula_results(parse_mode):
    sheet = faults.worksheet(
        '<row r="1"><c r="A1"><v>42</v></c><c r="B1"><v>2.5</v></c><c r="C1" t="n"><v>1.0</v></c>'
        '<c r="D1"><v>1E3</v></c><c r="E1"><v>-0.125</v></c></row>'
        '<row r="2"><c r="A2" t="b"><v>1</v></c><c r="B2" t="b"><v>0</v></c>'
        '<c r="C2" t="e"><v>#N/A</v></c><c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
        '<row r="3"><c r="A3" t="str"><f>A1&amp;""</f><v>42</v></c><c r="B3"><f>A1*2</f><v>84</v></c>'
        '<c r="C3"><f>A1</f></c><c r="D3"><v></v></c><c r="E3" t="d"><v>2025-02-26T10:30:00</v></c></row>')
    rows = read_first_sheet(faults.build_xlsx(sheet))
    assert values(rows) == [[42, 2.5, 1, 1000, -0.125], [True, False, "#N/A", "#DIV/0!"],
                            ["42", 84, None, None, dt.datetime(2025, 2, 26, 10, 30)]]
    assert [type(v) for v in values(rows)[0]] == [int, float, int, int, float]


def test_cells_are_placed_by_reference_else_by_running_position(parse_mode):
    sheet = faults.worksheet(
        '<row r="2"><c r="C2" t="inlineStr"><is><t>C2</t></is></c></row>'
        '<row><c t="inlineStr"><is><t>A3</t></is></c><c/><c t="inlineStr"><is><t>C3</t></is></c></row>'
        '<row r="5"><c r="B5" t="inlineStr"><is><t>B5</t></is></c><c t="inlineStr"><is><t>C5</t></is></c>'
        '<c r="A5" t="inlineStr"><is><t>A5</t></is></c></row>'
        '<row r="6"><c r="A6" s="1"/><c r="B6" s="1"/></row>')
    assert values(read_first_sheet(faults.build_xlsx(sheet))) == [
        [], [None, None, "C2"], ["A3", None, "C3"], [], ["A5", "B5", "C5"]]


def test_unusual_but_valid_cell_markup(parse_mode):
    sheet = faults.worksheet(
        '<row r="1"><!-- a comment --><c r="A1"><v>5</v><extLst/></c><c r="B1" t="s"><v>0</v><extLst/></c>'
        '<c t="inlineStr"><is><t>C1</t></is></c><extLst/></row>'
        '<row r="2"><c r="aa2"><v>27</v></c></row>'
        '<row r="1"><c r="D1"><v>4</v></c></row>')  # row 1 again: merged into it
    rows = read_first_sheet(faults.build_xlsx(sheet, strings=faults.shared_strings("<t>s</t>")))
    assert values(rows) == [[5, "s", "C1", 4], [None] * 26 + [27]]


def number_styled(serial: str, fmt_id: int, custom: dict[int, str] | None = None,
                  workbook_pr: str = "<workbookPr/>") -> object:
    """The value of one number cell shown with number format ``fmt_id``."""
    book = faults.build_xlsx(faults.worksheet(f'<row r="1"><c r="A1" s="1"><v>{serial}</v></c></row>'),
                             style=faults.styles([0, fmt_id], custom), workbook_pr=workbook_pr)
    return read_first_sheet(book)[0][0].value


@pytest.mark.parametrize("fmt_id, code", [
    (14, None), (15, None), (22, None), (30, None), (47, None), (57, None),
    (164, "yyyy-mm-dd"), (165, "[$-409]mmmm d, yyyy;@"), (166, "h:mm AM/PM"), (167, '[Red]dd/mm/yy "at" hh:mm'),
])
def test_date_formats_make_datetimes(fmt_id, code, parse_mode):
    custom = {fmt_id: code} if code else None
    assert number_styled("45714.75", fmt_id, custom) == dt.datetime(2025, 2, 26, 18, 0)


@pytest.mark.parametrize("fmt_id, code", [
    (0, None), (2, None), (49, None), (164, "General"), (165, "0.00"), (166, "[Red]0.00"),
    (167, '"days "0'), (168, r"0\d"), (169, "#,##0_);[Red](#,##0)"),
])
def test_other_formats_keep_numbers(fmt_id, code):
    custom = {fmt_id: code} if code else None
    assert number_styled("45714.75", fmt_id, custom) == 45714.75


@pytest.mark.parametrize("serial, expected", [
    ("1", dt.datetime(1900, 1, 1)),
    ("59", dt.datetime(1900, 2, 28)),
    ("60", dt.datetime(1900, 2, 28)),  # Excel's 1900-02-29, a day that never was
    ("61", dt.datetime(1900, 3, 1)),
    ("0.5", dt.datetime(1899, 12, 31, 12)),  # a time alone: Excel's day 0 is 1900-01-00
    ("45714", dt.datetime(2025, 2, 26)),
    ("45714.999999999", dt.datetime(2025, 2, 27)),  # float noise rounds to the millisecond
    ("1141572", dt.datetime(5025, 7, 7)),
    ("2958465", dt.datetime(9999, 12, 31)),
    ("2958466", 2958466),  # past 9999-12-31: no date, keep the number
    ("-1", -1),
])
def test_serials_in_the_1900_system(serial, expected, parse_mode):
    assert number_styled(serial, 14) == expected


@pytest.mark.parametrize("serial, expected", [("0", dt.datetime(1904, 1, 1)), ("44252", dt.datetime(2025, 2, 26)),
                                              ("2958465", 2958465)])
def test_serials_in_the_1904_system(serial, expected):
    assert number_styled(serial, 14, workbook_pr='<workbookPr date1904="1"/>') == expected


def hyperlinked_sheet(links: str, rels: str, data: str = "") -> list[list[Cell]]:
    sheet = faults.worksheet(data or '<row r="1"><c r="A1" t="inlineStr"><is><t>moa</t></is></c></row>',
                             f"<hyperlinks>{links}</hyperlinks>")
    return read_first_sheet(faults.build_xlsx(sheet, sheet_rels=rels))


def test_hyperlinks_single_range_and_on_empty_cells(parse_mode):
    rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/a.pdf", True),
                                ("rId2", "hyperlink", "https://ice.gov/b.pdf?x=1&amp;y=2", True))
    rows = hyperlinked_sheet('<hyperlink ref="A1" r:id="rId1"/><hyperlink ref="B2:C3" r:id="rId2"/>', rels)
    b = "https://ice.gov/b.pdf?x=1&y=2"
    assert rows == [[Cell("moa", "https://ice.gov/a.pdf")],
                    [Cell(None), Cell(None, b), Cell(None, b)],
                    [Cell(None), Cell(None, b), Cell(None, b)]]


def test_hyperlinks_without_an_external_target_are_ignored():
    rels = faults.relationships(("rId1", "hyperlink", "../printerSettings/printerSettings1.bin", False))
    rows = hyperlinked_sheet('<hyperlink ref="A1" location="Sheet2!A1" display="inside"/>'
                             '<hyperlink ref="A1" r:id="rId1"/><hyperlink ref="A1" r:id="rId9"/>', rels)
    assert rows == [[Cell("moa")]]


def test_first_sheet_in_workbook_order_resolved_through_relationships():
    parts = {
        "xl/workbook.xml": faults.workbook_xml(["rId5", "rId7", "rId1"]),
        "xl/_rels/workbook.xml.rels": faults.relationships(
            ("rId1", "worksheet", "worksheets/sheet1.xml", False),
            ("rId5", "chartsheet", "chartsheets/sheet1.xml", False),
            ("rId7", "worksheet", "/xl/worksheets/Data.xml", False)),
        "xl/worksheets/data.xml": faults.worksheet('<row r="1"><c r="A1"><v>7</v></c></row>'),
    }
    sheet1 = faults.worksheet('<row r="1"><c r="A1"><v>1</v></c></row>')
    assert values(read_first_sheet(faults.build_xlsx(sheet1, parts=parts))) == [[7]]


def test_workbook_written_by_openpyxl(parse_mode):
    book = Workbook()
    sheet = book.active
    sheet.append(["text", 3, 2.5, True, dt.datetime(2025, 3, 1, 14, 5, 6)])
    sheet["A2"] = "link"
    sheet["A2"].hyperlink = "https://www.ice.gov/doclib/287gMOA/x.pdf"
    sheet["C3"] = "=A1"  # no cached value: openpyxl does not calculate
    buffer = io.BytesIO()
    book.save(buffer)
    rows = read_first_sheet(buffer.getvalue())
    assert rows == [[Cell("text"), Cell(3), Cell(2.5), Cell(True), Cell(dt.datetime(2025, 3, 1, 14, 5, 6))],
                    [Cell("link", "https://www.ice.gov/doclib/287gMOA/x.pdf")]]


# --- Excel's plain form, and what only looks like it ----------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_takes_the_fast_paths(name, fast_reads):
    read_first_sheet(fixture(name))
    assert fast_reads["sheet"] == [True]
    # Two lists hold a rich-text string (one bold word): the general reader reads their strings.
    assert fast_reads["strings"] == [name not in (EARLIEST, RESAVED)]
    # The workbook's relationships, and the sheet's where it has links; the
    # tool that resaved one list writes their attributes in another order.
    assert set(fast_reads["relationships"]) == {name != RESAVED}


def latin1_sheet(sheet_data: str) -> bytes:
    return faults.worksheet(sheet_data).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")


OTHER_NAMESPACE = (f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{faults.MAIN}" '
                   'xmlns="urn:example:other"><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>'
                   "</x:worksheet>")


@pytest.mark.parametrize("sheet, plain, expected", [
    (faults.worksheet('\n  <row r="1">\n    <c r="A1"><v>1</v></c>\n  </row>\n'), True, [[1]]),
    (faults.worksheet('<row r="1"/><row spans="1:2"><c r="B2"><v>2</v></c></row><row><c r="A3" s="0"/></row>'),
     True, [[], [None, 2]]),
    (faults.worksheet('<row r="3"><c r="A3"><v>3</v></c></row><row r="1"><c r="A1"><v>1</v></c></row>'
                      '<row r="3"><c r="C3"><v>33</v></c></row>'), True, [[1], [], [3, None, 33]]),
    (faults.worksheet('<row spans="1:1" ht="15" r="2"><c r="A2"><v>2</v></c></row>'), True, [[], [2]]),
    (faults.worksheet('<row r="1"><c r="A1" t="str"><v>a&amp;b</v></c></row>'), False, [["a&b"]]),
    (faults.worksheet('<row r="1"><c r="A1" t="str"><v>two\r\nlines</v></c></row>'), False, [["two\nlines"]]),
    (faults.worksheet('<row r="1"><c r="A1" s="0" t="n" cm="1"><v>1</v></c></row>'), False, [[1]]),
    (faults.worksheet('<row r="1"><c><v>1</v></c><c><v>2</v></c></row>'), False, [[1, 2]]),
    (latin1_sheet('<row r="1"><c r="A1" t="str"><v>café</v></c></row>'), False, [["café"]]),
    (OTHER_NAMESPACE, False, []),
    (faults.worksheet('<row r="1"><c r="A1"><v>1</v></c></row>', '<sheetData><row r="2"><c r="A2"><v>2</v></c>'
                                                                 "</row></sheetData>"), False, [[1], [2]]),
    (faults.worksheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="2"/><row r="3" ht="9"><c r="A3"><v>3</v></c>'
                      '</row><row r="4" ht="9"><c r="B4"><v>4</v></c></row><row r=" 5" ht="9"><c r="A5"><v>5</v></c>'
                      "</row>"), True, [[1], [], [3], [None, 4], [5]]),
    (faults.worksheet('<row r="1" x14ac:dyDescent="0.25"><c r="A1"><v>1</v></c></row>').replace(
        "<worksheet ", '<worksheet xmlns:x14ac="urn:ac" '), True, [[1]]),
    (faults.worksheet('<row r="1" xmlns:a="urn:a"><c r="A1"><v>1</v></c></row>'), False, [[1]]),
    (faults.worksheet('<c r="A1"><v>1</v></c><row r="2"><c r="A2"><v>2</v></c></row>'), False, [[], [2]]),
    (faults.worksheet('<row r="1"><c r="A1" t="str"><f>B1&gt;0</f><v>a>b</v></c></row>'), False, [["a>b"]]),
    (faults.worksheet('<row r="1"><c r="A1" t="str"><f>B1>0</f><v>a>b</v></c></row>'), True, [["a>b"]]),
], ids=["whitespace", "empty-rows", "row-order", "row-number-last", "entity", "crlf", "cell-attribute", "no-refs", "latin-1",
        "other-namespace", "two-sheetdata", "row-tags-between-cells", "declared-prefix", "namespace-declaration",
        "cell-outside-rows", "reference-in-formula", "greater-than"])
def test_plain_form_and_its_look_alikes(sheet, plain, expected, fast_reads, monkeypatch):
    """The fast path reads only what it reads exactly as the general reader
    does, and hands everything else over whole."""
    data = faults.build_xlsx(sheet)
    assert values(read_first_sheet(data)) == expected
    assert fast_reads["sheet"] == [plain]
    general_only(monkeypatch)
    assert values(read_first_sheet(data)) == expected


# Bytes XML forbids: not UTF-8, a control character, U+FFFE, "]]>" in text.
FORBIDDEN_BYTES = [b"\xff", b"\x01", "\ufffe".encode(), b"a]]>b"]


@pytest.mark.parametrize("value", FORBIDDEN_BYTES)
def test_bytes_xml_forbids_are_refused_by_either_path(value, parse_mode):
    sheet = faults.worksheet('<row r="1"><c r="A1" t="str"><v>VALUE</v></c></row>').encode().replace(b"VALUE", value)
    assert refused(faults.build_xlsx(sheet)).startswith("malformed XML in xl/worksheets/sheet1.xml: ")
    strings = faults.shared_strings("<t>ok</t>", "<t>VALUE</t>").encode().replace(b"VALUE", value)
    assert refused(string_list(strings)).startswith("malformed XML in xl/sharedStrings.xml: ")
    if value != b"a]]>b":  # "]]>" is allowed in an attribute value
        rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/VALUE", True)).encode()
        assert refused(linked_list(rels.replace(b"VALUE", value))).startswith(
            "malformed XML in xl/worksheets/_rels/sheet1.xml.rels: ")


def read_both_ways(data: bytes, monkeypatch, fast_reads: dict[str, list[bool]]) -> tuple[list[list[object]], dict]:
    """Values and hyperlinks read with the fast paths, which must equal what
    the general reader alone reads; and which fast paths read their part."""
    rows = read_first_sheet(data)
    reads = {kind: list(read) for kind, read in fast_reads.items()}
    general_only(monkeypatch)
    assert read_first_sheet(data) == rows
    return [[(cell.value, cell.hyperlink) if cell.hyperlink else cell.value for cell in row] for row in rows], reads


def refused_both_ways(data: bytes, monkeypatch) -> str:
    message = refused(data)
    general_only(monkeypatch)
    assert refused(data) == message
    return message


def string_list(strings: str | bytes, count: int = 1) -> bytes:
    """A one-row list showing the first ``count`` strings of ``strings`` (a sharedStrings part)."""
    cells = "".join(f'<c r="{"ABCDEFGHIJ"[n]}1" t="s"><v>{n}</v></c>' for n in range(count))
    return faults.build_xlsx(faults.worksheet(f'<row r="1">{cells}</row>'), strings=strings)


def shared_strings_part(body: str, root: str = "sst", namespaces: str = f'xmlns="{faults.MAIN}"') -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} {namespaces}>{body}</{root}>'


@pytest.mark.parametrize("strings, plain, expected", [
    (faults.shared_strings("<t>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</t>", "<t>it&#x27;s&#10;ok&#128512;</t>",
                           '<t xml:space="preserve"> x </t>', "<t/>", "<t>tab\tgt > ok</t>", "<t>cr_x000D_</t>"),
     True, ["a & b <c> \"d\" 'e'", "it's\nok\U0001F600", " x ", "", "tab\tgt > ok", "cr\r"]),
    (shared_strings_part("\n  <si><t>one</t></si>\n  <si><t>two</t></si>\n"), True, ["one", "two"]),
    (faults.shared_strings("<t>two\r\nlines</t>"), False, ["two\nlines"]),
    (faults.shared_strings("<r><t>ri</t></r><r><t>ch</t></r>"), False, ["rich"]),
    (faults.shared_strings('<t xml:space="default">a</t>'), False, ["a"]),
    (faults.shared_strings("<t><![CDATA[<b>]]></t>"), False, ["<b>"]),
    # the item before the first plain one is in another namespace: not a string
    (faults.shared_strings("<t>a</t>", "<t>b</t>").replace("<si>", '<si xmlns="urn:other">', 1), True, ["b"]),
    # items in a comment: the one before it, prefixed, is the only string
    (shared_strings_part(f'<x:si xmlns:x="{faults.MAIN}"><t>first</t></x:si><!-- <si><t>hidden</t></si> -->'),
     False, ["first"]),
    (shared_strings_part("<si><t>a</t></si><x:si><t>b</t></x:si><si><t>c</t></si>",
                         namespaces=f'xmlns="{faults.MAIN}" xmlns:x="{faults.MAIN}"'), False, ["a", "b", "c"]),
    (shared_strings_part("<si><t>a</t></si>", "x:sst", f'xmlns:x="{faults.MAIN}" xmlns="urn:other"'), False, []),
], ids=["references-and-spaces", "whitespace", "crlf", "rich-text", "space-default", "cdata", "other-namespace",
        "comment", "prefixed-item", "prefixed-root"])
def test_plain_shared_strings_and_their_look_alikes(strings, plain, expected, fast_reads, monkeypatch):
    rows, reads = read_both_ways(string_list(strings, len(expected)), monkeypatch, fast_reads)
    assert rows == ([expected] if expected else [])
    assert reads["strings"] == [plain]


def test_shared_strings_outside_the_plain_form_are_refused_as_before(monkeypatch):
    for item, problem in [("<t>&#1;</t>", "xmlParseCharRef: invalid xmlChar value 1"),
                          ("<t>&nbsp;</t>", "Entity 'nbsp' not defined"),
                          ("<t>a</t></si></si><si>", "Opening and ending tag mismatch")]:
        strings = faults.shared_strings(item).replace('count="1"', "")
        message = refused_both_ways(faults.build_xlsx(faults.worksheet(""), strings=strings), monkeypatch)
        assert message.startswith("malformed XML in xl/sharedStrings.xml: ") and problem in message


def linked_list(rels: str | bytes, links: str = '<hyperlink ref="A1" r:id="rId1"/>',
                root: str = f'<worksheet xmlns="{faults.MAIN}" xmlns:r="{faults.REL}">') -> bytes:
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?>{root}<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
             f"</sheetData><hyperlinks>{links}</hyperlinks></worksheet>")
    return faults.build_xlsx(sheet, sheet_rels=rels)


def relationships_part(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{faults.PACKAGE_REL}">{body}</Relationships>'


HYPERLINK_TYPE = f"{faults.REL}/hyperlink"


@pytest.mark.parametrize("rels, plain, target", [
    (faults.relationships(("rId1", "hyperlink", "https://ice.gov/a?x=1&amp;y=&#x27;2&#39;", True)), True,
     "https://ice.gov/a?x=1&y='2'"),
    (relationships_part(f'<Relationship Id="rId1" Type="{HYPERLINK_TYPE}" Target="https://ice.gov/a"/>'), True, None),
    (relationships_part(f'<Relationship Type="{HYPERLINK_TYPE}" Target="https://ice.gov/a" TargetMode="External" '
                        'Id="rId1"/>'), False, "https://ice.gov/a"),
    (relationships_part(f'<Relationship Id="rId1" Type="{HYPERLINK_TYPE}" Target="https://ice.gov/\ta" '
                        'TargetMode="External"/>'), False, "https://ice.gov/ a"),
    (relationships_part(f'<Relationship Id="rId1" Type="{HYPERLINK_TYPE}" Target="https://ice.gov/a>b" '
                        'TargetMode="External"/>'), True, "https://ice.gov/a>b"),
    (relationships_part(f'<!-- <Relationship Id="rId1" Type="{HYPERLINK_TYPE}" Target="https://ice.gov/a" '
                        'TargetMode="External"/> -->'), False, None),
], ids=["references", "internal", "attribute-order", "tab", "greater-than", "comment"])
def test_plain_relationships_and_their_look_alikes(rels, plain, target, fast_reads, monkeypatch):
    rows, reads = read_both_ways(linked_list(rels), monkeypatch, fast_reads)
    assert rows == [[(1, target) if target else 1]]
    assert reads["relationships"] == [True, plain]


@pytest.mark.parametrize("links, root, sheet_plain, expected", [
    ('<hyperlink ref="A1" r:id="rId1" display="moa &amp; more" xr:uid="{F46EA86F}"/>'
     '<hyperlink ref="B2" location="Sheet2!A1" display="inside"/><hyperlink ref="A2:B2" r:id="rId1" tooltip="t"/>',
     f'<worksheet xmlns="{faults.MAIN}" xmlns:r="{faults.REL}" xmlns:xr="urn:revision">', True,
     [[(1, "https://ice.gov/a")], [(None, "https://ice.gov/a"), (None, "https://ice.gov/a")]]),
    ('<hyperlink r:id="rId1" ref="A1"/>', None, True, [[(1, "https://ice.gov/a")]]),
    ('<hyperlink ref="A1" r:id="rId1"/>', f'<worksheet xmlns="{faults.MAIN}" xmlns:r="urn:other">', False, [[1]]),
    ('<hyperlink ref="A1" r:id="rId1" display="a&#x1;"/>', None, False, None),
    ('<hyperlink ref="A1" r:id="rId1" xr:uid="{F46EA86F}"/>', None, False, None),
], ids=["attributes", "attribute-order", "r-elsewhere", "forbidden-reference", "undeclared-prefix"])
def test_plain_hyperlinks_and_their_look_alikes(links, root, sheet_plain, expected, fast_reads, monkeypatch):
    """Hyperlinks outside the plain form are read by lxml with the rest of
    the sheet, which still takes the fast path if it fits in a tree."""
    rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/a", True))
    data = linked_list(rels, links, *([root] if root else []))
    if expected is None:
        assert refused_both_ways(data, monkeypatch).startswith("malformed XML in xl/worksheets/sheet1.xml: ")
        return
    rows, reads = read_both_ways(data, monkeypatch, fast_reads)
    assert rows == expected
    assert reads["sheet"] == [sheet_plain]


@pytest.mark.parametrize("row, problem", [
    ('<row r="1" ht="1" ht="2">', "Attribute ht redefined"),
    ('<row r="1" x:ht="1">', "Namespace prefix x for ht on row is not defined"),
    ('<row r="1" r="2">', "Attribute r redefined"),
    (f'<row r="1" xmlns:a="urn:a" xmlns:b="urn:a" a:x="1" b:x="2">', "Namespaced Attribute x in 'urn:a' redefined"),
])
def test_row_attributes_lxml_refuses_are_refused_by_either_path(row, problem, monkeypatch):
    data = faults.build_xlsx(faults.worksheet(f'<row r="2"><c r="A2"><v>1</v></c></row>{row}<c r="A1"><v>1</v></c>'
                                              "</row>"))
    message = refused_both_ways(data, monkeypatch)
    assert message.startswith("malformed XML in xl/worksheets/sheet1.xml: ") and problem in message


# --- long lists ----------------------------------------------------------------


@pytest.mark.slow   # builds and reads a 100,000-row workbook; the row limit's rule is checked below on 1,000
def test_a_list_of_100000_data_rows_is_read(fast_reads):
    rows = read_first_sheet(faults.long_list(100_000))
    assert len(rows) == 100_001 and data_rows(rows) == 100_000
    assert values(rows[-1:]) == [["TEXAS", "Agency 99999 Sheriff's Office", "Task Force Model",
                                  dt.datetime(1900, 1, 1) + dt.timedelta(days=45000 + 100_001 % 700 - 2), "link"]]
    assert rows[-10][4] == Cell("link", "https://www.ice.gov/doclib/287gMOA/moa.pdf")
    assert fast_reads == {"sheet": [True], "strings": [True], "relationships": [True, True]}


def test_a_list_over_the_configured_limit_is_refused_in_one_line(parse_mode):
    thousand = faults.long_list(1_000)
    assert data_rows(read_first_sheet(thousand, Limits(max_rows=1_000))) == 1_000     # the header does not count
    assert refused(thousand, Limits(max_rows=999)) == "sheet too large: more than 999 data rows"


def test_blank_rows_do_not_count_and_cost_no_list_each(parse_mode):
    sheet = faults.worksheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>2</v></c>'
                             "</row>")
    rows = read_first_sheet(faults.build_xlsx(sheet), Limits(max_rows=1))
    assert len(rows) == 1_048_576 and values([rows[0], rows[-1]]) == [[1], [2]]
    assert len({id(row) for row in rows[1:-1]}) == 1
    beyond = faults.worksheet('<row r="1048577"><c r="A1048577"><v>1</v></c></row>')
    assert refused(faults.build_xlsx(beyond)) == "bad row number 1048577"


@pytest.mark.e2e
def test_a_check_quarantines_a_list_over_max_list_rows(tmp_path):
    """The configured limit reaches a live check: the list is quarantined with
    its reason, the check fails, nothing else is recorded from it."""
    from tests.support.checks import february_site, ice_source, run_check, table, write_config

    server = february_site()  # 151 participating rows, 41 pending
    try:
        config = write_config(tmp_path / "c.toml", [ice_source(server)], max_list_rows=150)
        data = tmp_path / "data"
        result = run_check(config, data)
    finally:
        server.close()
    verdicts = {v["kind"]: v for v in result.source()["verdicts"]}
    assert verdicts["participating"]["verdict"] == "quarantined"
    assert verdicts["participating"]["reason"] == "unreadable file: sheet too large: more than 150 data rows"
    assert verdicts["pending"]["verdict"] == "baseline"
    assert result.code == 1
    assert table(data, "agreements") == []


@pytest.mark.parametrize("value", [0, 2_000_000, "many"])
def test_max_list_rows_must_be_a_row_count(value, cli, tmp_path):
    from tests.support.checks import write_config

    config = write_config(tmp_path / "c.toml", [{"name": "ice", "type": "ice", "url": "http://127.0.0.1:9/"}],
                          max_list_rows=value)
    code, _out, err = cli("check", config_file=config)
    assert code == 2
    assert err.count("\n") == 1 and "[crawl].max_list_rows" in err


# --- refusals ----------------------------------------------------------------


def test_refuses_what_is_not_an_xlsx_workbook():
    assert refused(faults.html_page()) == "not an xlsx workbook (looks like an HTML page)"
    assert refused(b"") == "not an xlsx workbook (empty file)"
    assert refused(b"%PDF-1.7 ...") == "not an xlsx workbook (not a zip archive)"
    assert refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)) == (
        "not an xlsx workbook (looks like a legacy .xls or a password-protected workbook)")
    assert refused(faults.docx()) == "not an xlsx workbook (zip has no xl/workbook.xml; looks like a Word document)"
    data = fixture(EARLIEST)
    assert refused(data[: len(data) // 2]).startswith("not an xlsx workbook (truncated or corrupt zip archive")


def test_refuses_broken_workbook_structure(parse_mode):
    no_sheets = faults.build_xlsx(faults.worksheet(""), parts={"xl/workbook.xml": faults.workbook_xml([])})
    assert refused(no_sheets) == "no worksheet in workbook"
    missing_sheet = faults.build_xlsx(faults.worksheet(""), parts={"xl/worksheets/sheet1.xml": None})
    assert refused(missing_sheet) == "workbook part missing: xl/worksheets/sheet1.xml"
    bad_index = faults.build_xlsx(faults.worksheet('<row r="1"><c r="A1" t="s"><v>3</v></c></row>'),
                                  strings=faults.shared_strings("<t>only</t>"))
    assert refused(bad_index) == "shared string index 3 out of range"
    bad_number = faults.build_xlsx(faults.worksheet('<row r="1"><c r="A1"><v>twelve</v></c></row>'))
    assert refused(bad_number) == "bad number in a numeric cell: 'twelve'"
    not_a_sheet = faults.build_xlsx(f'<chartsheet xmlns="{faults.MAIN}"/>')
    assert refused(not_a_sheet) == "unexpected content in xl/worksheets/sheet1.xml (no worksheet element)"
    for row, message in [('<row r="0"><c r="A0"><v>1</v></c></row>', "bad row number 0"),
                         ('<row r="1"><c r="1A"><v>1</v></c></row>', "bad cell reference '1A'"),
                         ('<row r="1"><c r="AAA1"><v>1</v></c></row>', "sheet too large: more than 200 columns")]:
        assert refused(faults.build_xlsx(faults.worksheet(row))) == message
    rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/a.pdf", True))
    bad_link = faults.worksheet("", '<hyperlinks><hyperlink ref="moa" r:id="rId1"/></hyperlinks>')
    assert refused(faults.build_xlsx(bad_link, sheet_rels=rels)) == "bad cell reference 'moa'"


def test_refuses_malformed_xml(parse_mode):
    data = faults.replace_member(faults.openpyxl_workbook([["a"]]), faults.SHEET,
                                 f'<worksheet xmlns="{faults.MAIN}"><sheetData><row r="1"><c r="A1">')
    assert refused(data).startswith("malformed XML in xl/worksheets/sheet1.xml: ")


@pytest.mark.parametrize("hostile", [faults.billion_laughs, faults.external_entity])
def test_refuses_a_dtd_without_expanding_it(hostile, parse_mode):
    data = faults.build_xlsx(faults.worksheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), strings=hostile())
    message, peak = refused_with_peak_memory(data)
    assert message == "refused xl/sharedStrings.xml: it declares a DTD (entity expansion risk)"
    assert peak < 1 << 20  # ten billion "lol"s were never spelled out
    in_sheet = faults.replace_member(faults.openpyxl_workbook([["a"]]), faults.SHEET,
                                     faults.worksheet("").replace("?>", '?><!DOCTYPE worksheet [<!ENTITY a "b">]>', 1))
    assert refused(in_sheet) == "refused xl/worksheets/sheet1.xml: it declares a DTD (entity expansion risk)"
    utf16 = faults.shared_strings("<t>&a;</t>").replace("UTF-8", "UTF-16").replace(
        "?>", '?><!DOCTYPE sst [<!ENTITY a "b">]>', 1).encode("utf-16")
    data = faults.build_xlsx(faults.worksheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), strings=utf16)
    assert refused(data) == "refused xl/sharedStrings.xml: it declares a DTD (entity expansion risk)"


def test_refuses_input_over_the_size_limit():
    assert refused(fixture(EARLIEST), Limits(max_file_bytes=10_000)) == "file too large: 29 KB (limit 9.8 KB)"


def test_refuses_sheets_over_the_row_and_column_limits(parse_mode):
    data = fixture(EARLIEST)
    # 151 data rows under the header: the header does not count.
    assert refused(data, Limits(max_rows=150)) == "sheet too large: more than 150 data rows"
    assert refused(data, Limits(max_cols=5)) == "sheet too large: more than 5 columns"
    assert len(read_first_sheet(data, Limits(max_rows=151, max_cols=6))) == 152
    rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/a.pdf", True))
    far_link = faults.build_xlsx(faults.worksheet("", '<hyperlinks><hyperlink ref="A1:A200" r:id="rId1"/>'
                                                      "</hyperlinks>"), sheet_rels=rels)
    assert refused(far_link, Limits(max_rows=100)) == "sheet too large: more than 100 data rows"
    overlapping = faults.build_xlsx(faults.worksheet("", '<hyperlinks><hyperlink ref="A1:J10" r:id="rId1"/>'
                                                         '<hyperlink ref="J10:A1" r:id="rId1"/></hyperlinks>'),
                                    sheet_rels=rels)
    assert refused(overlapping, Limits(max_rows=10, max_cols=10)) == "sheet too large: too many hyperlinked cells"


@pytest.mark.slow   # deflates 550 MB of zeros to build its bombs
def test_refuses_an_honest_zip_bomb_before_inflating_it():
    data = faults.zeros_member(faults.openpyxl_workbook([["a"]]), faults.SHEET, 500 << 20, compresslevel=1)
    assert refused(data) == ("zip member xl/worksheets/sheet1.xml too large: declares 500 MB "
                             "(limit 100 MB)")
    dense = faults.zeros_member(faults.openpyxl_workbook([["a"]]), faults.SHEET, 50 << 20)
    assert refused(dense).startswith("zip member xl/worksheets/sheet1.xml looks like a zip bomb: compression ratio ")
    assert refused(fixture(JULY), Limits(max_total_bytes=100_000)) == (
        "workbook too large: parts read declare over 98 KB")


def test_a_lying_size_header_cannot_make_it_inflate_more():
    bomb = faults.zeros_member(faults.openpyxl_workbook([["a"]]), faults.SHEET, 50 << 20)
    lying = faults.patch_central_directory(bomb, faults.SHEET, file_size=20_000)
    message, peak = refused_with_peak_memory(lying)
    assert message.startswith("corrupt zip member xl/worksheets/sheet1.xml: ")
    assert peak < 2 << 20
    overstated = faults.patch_central_directory(faults.openpyxl_workbook([["a"]]), faults.SHEET, file_size=60_000)
    assert refused(overstated) == "zip member xl/worksheets/sheet1.xml does not match its declared size"


def test_refuses_encrypted_and_unsupported_members():
    data = faults.openpyxl_workbook([["a"]])
    encrypted = faults.patch_central_directory(data, faults.SHEET, flag_bits=0x1)
    assert refused(encrypted) == "zip member xl/worksheets/sheet1.xml is encrypted"
    sheet = zipfile.ZipFile(io.BytesIO(data)).read(faults.SHEET)
    bzip2 = faults.replace_member(data, faults.SHEET, sheet, compression=zipfile.ZIP_BZIP2)
    assert refused(bzip2) == "zip member xl/worksheets/sheet1.xml uses unsupported compression method 12"


def test_streaming_bounds_an_element_that_never_closes(monkeypatch):
    monkeypatch.setattr(xlsx, "_TREE_MAX_BYTES", 0)
    monkeypatch.setattr(xlsx, "_MAX_ELEMENT_BYTES", 200_000)
    endless_row = '<row r="1">' + '<c t="inlineStr"><is><t>x</t></is></c>' * 20_000 + "</row>"
    data = faults.build_xlsx(faults.worksheet(endless_row))
    assert refused(data, Limits(max_ratio=10_000)) == (
        "XML element too large in xl/worksheets/sheet1.xml: over 195 KB")


def test_streaming_gives_up_early_on_a_part_without_its_root(monkeypatch):
    monkeypatch.setattr(xlsx, "_TREE_MAX_BYTES", 0)
    monkeypatch.setattr(xlsx, "_PROLOG_MAX_BYTES", 8192)
    data = faults.build_xlsx(f'<chartsheet xmlns="{faults.MAIN}">' + "<x/>" * 100_000 + "</chartsheet>")
    assert refused(data, Limits(max_ratio=10_000)) == (
        "unexpected content in xl/worksheets/sheet1.xml (no worksheet element)")


def test_streaming_drops_what_it_does_not_keep(monkeypatch):
    monkeypatch.setattr(xlsx, "_TREE_MAX_BYTES", 0)
    padding = "<mergeCells>" + '<mergeCell ref="A1:B2"/>' * 50_000 + "</mergeCells>"
    data = faults.build_xlsx(faults.worksheet('<row r="1"><c r="A1"><v>1</v></c></row>', padding))
    assert values(read_first_sheet(data, Limits(max_ratio=10_000))) == [[1]]


def test_damaged_files_raise_only_workbook_error():
    original = fixture(PENDING)
    rng = random.Random(287)
    for _ in range(300):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            read_first_sheet(bytes(damaged))
        except WorkbookError as err:
            assert "\n" not in str(err)
    for cut in range(0, len(original), 997):
        with pytest.raises(WorkbookError):
            read_first_sheet(original[:cut])


# --- a workbook read again ------------------------------------------------------

SHEET_RELS = "xl/worksheets/_rels/sheet1.xml.rels"


def test_a_twin_whose_parts_are_the_same_gets_the_reading_before(readings_kept):
    data = fixture(JULY)
    twin = faults.replace_member(data, "docProps/core.xml", "<coreProperties/>")  # as ICE republishes
    first = read_first_sheet(data)
    again = read_first_sheet(twin)
    assert twin != data and again is first
    assert again == read_alone(twin)


def test_a_workbook_with_one_part_changed_is_read_anew(readings_kept):
    data = fixture(JULY)
    rels = zipfile.ZipFile(io.BytesIO(data)).read(SHEET_RELS)
    moved = faults.replace_member(data, SHEET_RELS, rels.replace(b"/doclib/287gMOA/", b"/doclib/287gMOU/"))
    first = read_first_sheet(data)
    changed = read_first_sheet(moved)
    assert changed != first and changed == read_alone(moved)
    assert "/doclib/287gMOU/" in our_cells(changed)[(806, 7)][1]


def test_a_part_gone_is_an_answer_that_differs(readings_kept):
    sheet = faults.worksheet('<row r="1"><c r="A1" t="inlineStr"><is><t>moa</t></is></c></row>',
                             '<hyperlinks><hyperlink ref="A1" r:id="rId1"/></hyperlinks>')
    rels = faults.relationships(("rId1", "hyperlink", "https://ice.gov/a.pdf", True))
    assert read_first_sheet(faults.build_xlsx(sheet, sheet_rels=rels)) == [[Cell("moa", "https://ice.gov/a.pdf")]]
    assert read_first_sheet(faults.build_xlsx(sheet)) == [[Cell("moa")]]


def test_a_twin_under_other_limits_is_read_under_its_own(readings_kept):
    data = fixture(JULY)
    read_first_sheet(data)
    with pytest.raises(WorkbookError, match="more than 100 data rows"):
        read_first_sheet(data, Limits(max_rows=100))


def test_a_twin_with_a_bad_part_fails_as_it_would_alone(readings_kept):
    data = fixture(JULY)
    strings = zipfile.ZipFile(io.BytesIO(data)).read(faults.SHARED_STRINGS)
    bad = faults.replace_member(data, faults.SHARED_STRINGS, strings, compression=zipfile.ZIP_BZIP2)
    read_first_sheet(data)
    with pytest.raises(WorkbookError) as reused:
        read_first_sheet(bad)
    with pytest.raises(WorkbookError) as alone:
        read_alone(bad)
    assert str(reused.value) == str(alone.value) and "unsupported compression" in str(alone.value)


def test_a_workbook_whose_parts_hold_more_than_the_bound_is_not_kept(readings_kept, monkeypatch):
    data = fixture(JULY)
    twin = faults.replace_member(data, "docProps/core.xml", "<coreProperties/>")
    monkeypatch.setattr(xlsx, "_ANSWERS_MAX_BYTES", 400_000)  # less than its sheet and .rels
    first = read_first_sheet(data)
    again = read_first_sheet(twin)
    assert again is not first and again == first


def test_only_the_last_few_readings_are_kept(readings_kept):
    data = fixture(JULY)
    first = read_first_sheet(data)
    for name in (EARLIEST, PENDING, RESAVED, SWAPPED):
        read_first_sheet(fixture(name))
    again = read_first_sheet(data)
    assert again is not first and again == first


def test_a_list_that_changed_reads_only_its_changed_parts_again(readings_kept, fast_reads):
    data = fixture(JULY)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read(faults.SHEET)
    edited = faults.replace_member(data, faults.SHEET, sheet.replace(b"<v>45845</v>", b"<v>45846</v>", 1))
    first = read_first_sheet(data)
    parsed = {kind: len(reads) for kind, reads in fast_reads.items()}
    changed = read_first_sheet(edited)
    assert changed != first and changed == read_alone(edited)
    # the sheet again; the shared strings and both .rels as they were
    assert {kind: len(reads) - parsed[kind] for kind, reads in fast_reads.items()} == {
        "sheet": 2, "strings": 1, "relationships": 2}


def test_equal_cells_of_two_workbooks_are_one_object(monkeypatch):
    monkeypatch.setattr(xlsx, "_CANONICAL_CELLS", xlsx._CanonicalCells(kept=8192))
    earlier, later = read_first_sheet(fixture(EARLIEST)), read_first_sheet(fixture(JULY))
    assert earlier[0][0] == later[0][0] == Cell("STATE") and earlier[0][0] is later[0][0]
    links = {cell for row in earlier for cell in row if cell.hyperlink}
    again = [cell for row in later for cell in row if cell in links]
    assert again and all(any(cell is link for link in links) for cell in again)


def test_cells_equal_but_not_alike_stay_apart(monkeypatch):
    monkeypatch.setattr(xlsx, "_CANONICAL_CELLS", xlsx._CanonicalCells(kept=8192))
    number = '<row r="1"><c r="A1"><v>1</v></c></row>'
    flag = '<row r="1"><c r="A1" t="b"><v>1</v></c></row>'
    assert [type(read_first_sheet(faults.build_xlsx(faults.worksheet(sheet)))[0][0].value)
            for sheet in (number, flag, number)] == [int, bool, int]


def test_cells_kept_as_one_are_bounded(monkeypatch):
    whole = read_first_sheet(fixture(JULY))
    monkeypatch.setattr(xlsx, "_CANONICAL_CELLS", xlsx._CanonicalCells(kept=3))
    assert read_first_sheet(fixture(JULY)) == whole
    assert all(len(cells) <= 3 for cells in xlsx._CANONICAL_CELLS._by_type.values())


# --- every real list, against openpyxl ------------------------------------------


def openpyxl_cells(path: Path) -> dict[tuple[int, int], tuple[object, str | None]]:
    """(row, column) -> (value, hyperlink target) of every cell openpyxl fills."""
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = openpyxl.load_workbook(path, data_only=True).worksheets[0]
    cells = {}
    for row in sheet.iter_rows():
        for cell in row:
            link = cell.hyperlink.target if cell.hyperlink is not None else None
            value = cell.value
            if isinstance(value, dt.time):  # openpyxl gives a time alone for serials under 1
                value = dt.datetime.combine(dt.date(1899, 12, 31), value)
            if value is not None or link is not None:
                cells[(cell.row, cell.column)] = (value, link)
    return cells


def our_cells(rows: list[list[Cell]]) -> dict[tuple[int, int], tuple[object, str | None]]:
    return {(r, c): (cell.value, cell.hyperlink) for r, row in enumerate(rows, 1) for c, cell in enumerate(row, 1)
            if cell.value is not None or cell.hyperlink is not None}


def same_type(ours: object, theirs: object) -> bool:
    """openpyxl reads 2.0 as float where we give int; every other type must match."""
    numbers = (int, float)
    if isinstance(ours, numbers) and isinstance(theirs, numbers):
        return isinstance(ours, bool) == isinstance(theirs, bool)
    return type(ours) is type(theirs)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # openpyxl reads 391 workbooks: minutes on a busy 2-core machine
def test_every_real_list_matches_openpyxl(shared_snapshots, readings_kept):
    manifest = list(csv.DictReader((shared_snapshots / "manifest.csv").open(newline="")))
    assert len(manifest) == 391
    paths = [shared_snapshots / entry["file"] for entry in manifest]
    mismatches = []
    # openpyxl's full load is nine tenths of this test: spread it over the cores.
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        for entry, path, theirs in zip(manifest, paths, pool.map(openpyxl_cells, paths, chunksize=4)):
            rows = read_first_sheet(path.read_bytes())
            ours = our_cells(rows)
            for key in sorted(ours.keys() | theirs.keys()):
                mine, other = ours.get(key), theirs.get(key)
                if mine != other or (mine is not None and not same_type(mine[0], other[0])):
                    mismatches.append((entry["file"], key, mine, other))
            if data_rows(rows) != int(entry["rows"]):
                mismatches.append((entry["file"], "rows", data_rows(rows), entry["rows"]))
    assert mismatches == []


@pytest.mark.slow
def test_the_general_reader_agrees_on_every_tenth_real_list(shared_snapshots, monkeypatch):
    """Real lists all take the fast paths; the general reader, which reads any
    other form, must read them to the same cells."""
    manifest = list(csv.DictReader((shared_snapshots / "manifest.csv").open(newline="")))
    contents = [(shared_snapshots / entry["file"]).read_bytes() for entry in manifest[::10]]
    fast = [read_first_sheet(content) for content in contents]
    general_only(monkeypatch)
    assert [read_first_sheet(content) for content in contents] == fast
