"""spiders.ice_page on the real captures of ICE's page, and on the 2026 form."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest
from watch287g.readers.ice_page import (
    blocked_reason,
    first_sentence,
    parse_page,
    read_page,
    soup_of,
)

from watch287g.testing.pages import ice_page_with_links

PAGES = Path(__file__).parent / "fixtures" / "pages"
URL = "https://www.ice.gov/identify-and-arrest/287g"


def capture(name: str) -> bytes:
    return gzip.decompress((PAGES / f"{name}.html.gz").read_bytes())


def test_2025_buttons_give_both_lists_with_their_as_of_sentences():
    page = parse_page(capture("2025-06-06_xlsx-button-era"), URL)
    folder = "https://www.ice.gov/doclib/about/offices/ero/287g/"
    assert page.links == {"participating": folder + "participatingAgencies06052025pm.xlsx",
                          "pending": folder + "pendingAgencies06052025pm.xlsx"}
    assert page.link_texts == {"participating": "View 287(g) Participating Agencies",
                               "pending": "View 287(g) Pending Agencies"}
    assert page.as_of["participating"] == ("As of June 5, 2025, at 4 p.m., ICE has signed 640 Memorandums of "
                                           "Agreement for 287(g) programs covering 40 states.")
    assert page.as_of["pending"] == "As of June 5, 2025, at 4 p.m., ICE has 88 pending 287(g) program applications."
    assert page.updated == "2025-06-05T15:34:59-04:00"
    assert page.blocked is None


@pytest.mark.parametrize("name", ["2024-12-18_html-table-era", "2021-01-13_html-table-era"])
def test_html_table_era_pages_link_no_list(name):
    # Their MOA "link" anchors (inside the table) and encounter-report PDFs are not lists.
    page = parse_page(capture(name), URL)
    assert page.links == {"participating": None, "pending": None}
    assert page.blocked is None


def test_html_table_era_updated_date():
    assert parse_page(capture("2024-12-18_html-table-era"), URL).updated == "2024-12-17T07:44:18-05:00"
    assert parse_page(capture("2021-01-13_html-table-era"), URL).updated is None


SPRING_2026 = """<!DOCTYPE html><html><head><title>287(g) | ICE</title></head><body><main>
<h3>How Can Your Agency Participate in the ICE 287(g) Program?</h3>
<ul><li><a href="/file-download/download/public/11111">TFM Letter of Interest Template</a></li>
<li><a href="/file-download/download/public/11112">TFM MOA (fillable)</a></li></ul>
<h3>287(g) Participating Agencies</h3>
<p>As of April 9, 2026, at 4 p.m. ICE has signed 1,412 Memorandums of Agreement. These include JEM agreements.</p>
<p><a class="usa-button" href="/file-download/download/public/58213">View</a></p>
<h3>287(g) Pending Agencies</h3>
<p>As of April 9, 2026, ICE has 61 pending 287(g) program applications.</p>
<p><a class="usa-button" href="//www.ice.gov/file-download/download/public/58214#top">Download spreadsheet</a></p>
<div>Updated: <time datetime="2026-04-09T16:12:00-04:00">04/09/2026</time></div>
</main></body></html>"""


def test_2026_download_links_found_by_heading_not_by_name():
    page = parse_page(SPRING_2026, URL)
    assert page.links == {"participating": "https://www.ice.gov/file-download/download/public/58213",
                          "pending": "https://www.ice.gov/file-download/download/public/58214"}
    # "at 4 p.m. ICE" does not end the sentence.
    assert page.as_of["participating"] == ("As of April 9, 2026, at 4 p.m. ICE has signed 1,412 Memorandums "
                                           "of Agreement.")
    assert page.as_of["pending"] == "As of April 9, 2026, ICE has 61 pending 287(g) program applications."
    assert page.updated == "2026-04-09T16:12:00-04:00"


def test_button_text_wins_over_heading_and_ignores_other_documents():
    html = """<html><body>
    <h3>Participating Agencies</h3>
    <p><a href="https://www.ice.gov/doclib/287gMOA/moaTemplate.xlsx">MOA template</a></p>
    <p><a href="https://www.ice.gov/doclib/x/ParticipatingAgency04012026pm copy.xlsx">View 287(g) Participating
       Agencies</a></p>
    <p><a href="https://www.ice.gov/doclib/x/pendingAgencies040l2026mid.xlsx">View 287(g) Pending Agencies</a></p>
    </body></html>"""
    page = parse_page(html, URL)
    assert page.links["participating"] == "https://www.ice.gov/doclib/x/ParticipatingAgency04012026pm%20copy.xlsx"
    assert page.links["pending"] == "https://www.ice.gov/doclib/x/pendingAgencies040l2026mid.xlsx"
    assert page.as_of == {"participating": None, "pending": None}


def test_page_without_pending_link():
    html = SPRING_2026.split("<h3>287(g) Pending Agencies</h3>")[0] + "</main></body></html>"
    page = parse_page(html, URL)
    assert page.links["participating"].endswith("/58213")
    assert page.links["pending"] is None


def test_root_relative_and_base_href_resolution():
    html = """<html><head><base href="https://www.ice.gov/sub/"></head><body>
    <a href="participatingAgencies.xlsx">View 287(g) Participating Agencies</a></body></html>"""
    assert parse_page(html, URL).links["participating"] == "https://www.ice.gov/sub/participatingAgencies.xlsx"


@pytest.mark.parametrize("html", [
    "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>You don't have permission "
    "to access this server.<p>Reference #18.4c1d3e17.1712345678.2a3b4c5d</p></body></html>",
    "<html><body><h1>Request Rejected</h1><p>The requested URL was rejected.</p></body></html>",
])
def test_block_pages_are_recognised(html):
    page = parse_page(html, URL)
    assert page.blocked
    assert page.links == {"participating": None, "pending": None}


def test_real_pages_are_not_block_pages():
    for name in ("2025-06-06_xlsx-button-era", "2024-12-18_html-table-era", "2021-01-13_html-table-era"):
        assert blocked_reason(soup_of(capture(name))) is None


def test_first_sentence_keeps_abbreviations():
    text = "Intro. As of May 2024, ICE has 287(g) JEM agreements with 60 agencies in the U.S. today. More."
    assert first_sentence(text) == "As of May 2024, ICE has 287(g) JEM agreements with 60 agencies in the U.S. today."


def _python_calls_to_read(html: str) -> int:
    """Work done by read_page, counted as Python function calls and generator
    steps (the tree walks of BeautifulSoup included), not as time."""
    soup = soup_of(html)
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        page = read_page(soup, URL)
    finally:
        sys.setprofile(None)
    assert page.links == {"participating": "https://www.ice.gov/file-download/download/public/58213",
                          "pending": "https://www.ice.gov/file-download/download/public/58214"}
    return calls


@pytest.mark.slow   # counts the calls of reading 11,000 links under a profiler
def test_reading_a_page_is_linear_in_its_links():
    # 10 times the links must cost about 10 times the work (quadratic: about 100 times).
    small, large = _python_calls_to_read(ice_page_with_links(1_000)), _python_calls_to_read(ice_page_with_links(10_000))
    assert large < 12 * small, (small, large)
