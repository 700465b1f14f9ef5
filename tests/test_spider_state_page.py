"""The state page spider: text and document changes become page.changed
events; a page's roster table becomes an agreement list. Crawls are real
(`watch287g check` in a child process against a local server); the reading
and diffing rules are also tested directly, without a crawl."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from watch287g.core import events as ev
from watch287g.readers.ice_page import soup_of
from watch287g.readers.pages import PageError, diff, read_page

from tests.support.checks import run_check, table, write_config
from watch287g.testing.fake_site import LocalServer

PAGES = Path(__file__).parent / "fixtures" / "pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}

BOARD = """<!DOCTYPE html><html><head><title>State Board of Immigration Enforcement</title></head><body>
<header><nav><a href="/">Home</a> <a href="/annual-report-2024.pdf">Annual report</a></nav></header>
<main>
  <h1>State Board of Immigration Enforcement</h1>
  <p>The Board coordinates 287(g) agreements between local agencies and ICE.</p>
  <h2>Meetings</h2>
  <ul>
    <li><a href="/SBIE/minutes-2025-03-04.pdf">Minutes, March 4, 2025</a></li>
    {extra}
  </ul>
  <p>Grant applications are open until {deadline}.</p>
</main>
<footer>Page generated {stamp}</footer>
</body></html>"""


def board(extra: str = "", deadline: str = "June 30, 2025", stamp: str = "12:00") -> bytes:
    return BOARD.replace("{extra}", extra).replace("{deadline}", deadline).replace("{stamp}", stamp).encode()


@pytest.fixture
def server():
    server = LocalServer()
    yield server
    server.close()


def page_config(server, tmp_path, **source) -> Path:
    entry = {"name": "fl-sbie", "type": "page", "url": server.url("/SBIE"), **source}
    return write_config(tmp_path / "config.toml", [entry])


def page_events(data: Path) -> list[dict]:
    return [e for e in table(data, "events") if e["type"] == ev.PAGE_CHANGED]


def test_page_changes_become_events_and_whitespace_does_not(server, tmp_path):
    config, data = page_config(server, tmp_path), tmp_path / "data"

    server.route("/SBIE", body=board(), headers=HTML)
    first = run_check(config, data)
    assert first.code == 0, first.stderr
    assert first.source("fl-sbie")["verdicts"] == [{"kind": "page", "verdict": "baseline", "reason": None,
                                                    "events": 0}]

    # Re-indented, re-wrapped, a different footer stamp: nothing a reader would call a change.
    reflowed = board(stamp="12:15").replace(b"<p>The Board coordinates", b"<p>\n\n   The   Board\n coordinates")
    server.route("/SBIE", body=reflowed, headers=HTML)
    assert run_check(config, data).source("fl-sbie")["verdicts"][0]["verdict"] == "unchanged"

    minutes = '<li><a href="minutes-2025-06-10.pdf">Minutes, June 10, 2025</a></li>'
    server.route("/SBIE", body=board(extra=minutes, deadline="July 31, 2025"), headers=HTML)
    result = run_check(config, data)
    assert result.code == 0
    [event] = result.source("fl-sbie")["events"]
    assert event["type"] == ev.PAGE_CHANGED and event["url"] == server.url("/SBIE")
    assert event["added_links"] == [{"url": server.url("/minutes-2025-06-10.pdf"),
                                     "text": "Minutes, June 10, 2025"}]
    assert event["removed_links"] == [] and event["text_changed"] is True
    assert "1 document added: Minutes, June 10, 2025 (minutes-2025-06-10.pdf)" in event["summary"]
    assert "+ Grant applications are open until July 31, 2025." in event["text_diff"]
    assert "- Grant applications are open until June 30, 2025." in event["text_diff"]

    server.route("/SBIE", body=board(deadline="July 31, 2025"), headers=HTML, etag='"v4"')
    [event] = run_check(config, data).source("fl-sbie")["events"]
    assert event["removed_links"] == [{"url": server.url("/minutes-2025-06-10.pdf"),
                                       "text": "Minutes, June 10, 2025"}]
    assert event["added_links"] == []

    again = run_check(config, data)                     # 304 Not Modified
    assert again.source("fl-sbie")["fetched"][0]["status"] == 304
    assert again.source("fl-sbie")["verdicts"][0]["verdict"] == "unchanged"
    assert len(page_events(data)) == 2
    assert [c["ok"] for c in table(data, "checks")] == [True] * 5


def test_selector_that_matches_nothing_is_a_failed_check(server, tmp_path):
    server.route("/SBIE", body=board(), headers=HTML)
    config, data = page_config(server, tmp_path, selector="#content-main"), tmp_path / "data"
    result = run_check(config, data)
    assert result.code == 1
    assert "selector '#content-main' matches nothing on the page" in result.report["message"]
    assert page_events(data) == []


def test_html_table_roster_from_ice_2024_capture(server, tmp_path):
    capture = gzip.decompress((PAGES / "2024-12-18_html-table-era.html.gz").read_bytes())
    server.route("/287g", body=capture, headers=HTML)
    config = write_config(tmp_path / "config.toml", [{"name": "roster", "type": "page", "url": server.url("/287g"),
                                                      "format": "html-table", "kind": "participating"}])
    data = tmp_path / "data"
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    assert result.source("roster")["verdicts"][0]["verdict"] == "baseline"
    agreements = table(data, "agreements")
    assert len(agreements) == 135
    etowah = next(a for a in agreements if a["agency"] == "Etowah County Sheriff's Office")
    assert (etowah["state"], etowah["model"], etowah["signed"]) == ("AL", "Jail Enforcement Model", "2020-06-09")
    # The steering committee tables (MOA Name | Meeting Date | ...) are not the list.
    assert not any(a["agency"] in ("Albemarele District Jail", "LaPaz County") for a in agreements)


# -- reading and diffing, without a crawl -------------------------------------

URL = "https://www.fdle.state.fl.us/SBIE"


def reading(html: str | bytes, selector: str | None = None):
    return read_page(soup_of(html), URL, selector)


def test_auto_main_content_and_absolute_document_links():
    page = reading(board(extra='<li><a href="//cdn.fl.gov/x/Grant%20Rules.DOCX#p2">Rules</a></li>'))
    assert page.title == "State Board of Immigration Enforcement"
    assert page.lines[0] == "State Board of Immigration Enforcement"
    assert not any("Page generated" in line for line in page.lines)      # footer left out
    assert [link["url"] for link in page.links] == ["https://cdn.fl.gov/x/Grant%20Rules.DOCX",
                                                    "https://www.fdle.state.fl.us/SBIE/minutes-2025-03-04.pdf"]


def test_without_main_the_site_chrome_is_left_out():
    html = board().replace(b"<main>", b"<div>").replace(b"</main>", b"</div>")
    page = reading(html)
    assert not any(link["url"].endswith("annual-report-2024.pdf") for link in page.links)
    assert not any("Page generated" in line for line in page.lines)


def test_whitespace_and_nbsp_changes_are_not_changes():
    old = reading("<main><p>Agreements  signed:\n 12</p><p>Next&nbsp;meeting</p></main>").record()
    new = reading("<main><p>Agreements signed: 12</p>\n\n<p>Next meeting</p></main>")
    assert diff(old, new) is None
    assert diff(old, reading("<main><p>Agreements signed: 13</p><p>Next meeting</p></main>"))["text_changed"]


def test_selector_errors():
    with pytest.raises(PageError, match="not valid CSS"):
        reading(board(), "main[")
    assert reading(board(), "h2 + ul").lines == ["Minutes, March 4, 2025"]
