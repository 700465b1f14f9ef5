"""The state page spider: text and document changes become page.changed
events; a page's roster table becomes an agreement list. The spider is
driven in-process on saved responses and its checks committed to a real
store; one real crawl (e2e) shows the network path and a real 304. The
reading and diffing rules are also tested directly, without a spider."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from watch287g.core import events as ev
from watch287g.readers.ice_page import soup_of
from watch287g.readers.pages import PageError, diff, read_page
from watch287g.spiders.state_page import StatePageSpider

from tests.support.checks import run_check, table, write_config
from tests.support.saved_responses import Saved, StoredChecks, settings_for

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


SBIE = "https://www.fdle.state.fl.us/SBIE"


def page_events(data: Path) -> list[dict]:
    return [e for e in table(data, "events") if e["type"] == ev.PAGE_CHANGED]


def sbie_checks(tmp_path, **source) -> StoredChecks:
    """Checks of the board's page (with these [[sources]] keys) into a store in tmp_path."""
    entry = {"name": "fl-sbie", "type": "page", "url": SBIE, **source}
    return StoredChecks(StatePageSpider, settings_for([entry]), tmp_path / "data")


def test_page_changes_become_events_and_whitespace_does_not(tmp_path):
    checks = sbie_checks(tmp_path)
    first = checks.run({SBIE: Saved(board(), headers=HTML)})
    assert first["ok"], first["message"]
    assert first["verdicts"] == [{"kind": "page", "verdict": "baseline", "reason": None, "events": 0}]

    # Re-indented, re-wrapped, a different footer stamp: nothing a reader would call a change.
    reflowed = board(stamp="12:15").replace(b"<p>The Board coordinates", b"<p>\n\n   The   Board\n coordinates")
    assert checks.run({SBIE: Saved(reflowed, headers=HTML)})["verdicts"][0]["verdict"] == "unchanged"

    minutes = '<li><a href="minutes-2025-06-10.pdf">Minutes, June 10, 2025</a></li>'
    result = checks.run({SBIE: Saved(board(extra=minutes, deadline="July 31, 2025"), headers=HTML)})
    assert result["ok"]
    [event] = result["events"]
    assert event["type"] == ev.PAGE_CHANGED and event["url"] == SBIE
    assert event["added_links"] == [{"url": "https://www.fdle.state.fl.us/minutes-2025-06-10.pdf",
                                     "text": "Minutes, June 10, 2025"}]
    assert event["removed_links"] == [] and event["text_changed"] is True
    assert "1 document added: Minutes, June 10, 2025 (minutes-2025-06-10.pdf)" in event["summary"]
    assert "+ Grant applications are open until July 31, 2025." in event["text_diff"]
    assert "- Grant applications are open until June 30, 2025." in event["text_diff"]

    [event] = checks.run({SBIE: Saved(board(deadline="July 31, 2025"), headers={**HTML, "ETag": '"v4"'})})["events"]
    assert event["removed_links"] == [{"url": "https://www.fdle.state.fl.us/minutes-2025-06-10.pdf",
                                       "text": "Minutes, June 10, 2025"}]
    assert event["added_links"] == []

    again = checks.run({SBIE: Saved(status=304, headers={"ETag": '"v4"'})})
    assert checks.last.requests[0].headers[b"If-None-Match"] == b'"v4"'
    assert again["fetched"][0]["status"] == 304
    assert again["verdicts"][0]["verdict"] == "unchanged"
    data = checks.store.data_dir
    assert len(page_events(data)) == 2
    assert [c["ok"] for c in table(data, "checks")] == [True] * 5


@pytest.mark.parametrize("answer, source, message", [
    (Saved(board(), headers=HTML), {"selector": "#content-main"},
     "page: selector '#content-main' matches nothing on the page (page redesigned?)"),
    (Saved(b"<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.</body>"
           b"</html>", headers=HTML), {},
     "page: the server sent a page titled 'Request Rejected' instead of the real page (blocked?)"),
    (Saved(b"busy", status=503), {}, f"page: HTTP 503 Service Unavailable from {SBIE}"),
    (Saved(board(), headers=HTML), {"format": "html-table"},
     "page: no table with STATE and LAW ENFORCEMENT AGENCY columns on the page"),
], ids=["selector matches nothing", "block page", "HTTP 503", "no roster table"])
def test_what_is_not_the_page_is_a_failed_check(tmp_path, answer, source, message):
    checks = sbie_checks(tmp_path, **source)
    result = checks.run({SBIE: answer})
    assert result["ok"] is False and result["message"] == message
    assert page_events(checks.store.data_dir) == []
    assert table(checks.store.data_dir, "sources") == [] and table(checks.store.data_dir, "snapshots") == []


def test_html_table_roster_from_ice_2024_capture(tmp_path):
    url = "https://www.ice.gov/identify-and-arrest/287g"
    capture = gzip.decompress((PAGES / "2024-12-18_html-table-era.html.gz").read_bytes())
    settings = settings_for([{"name": "roster", "type": "page", "url": url, "format": "html-table",
                              "kind": "participating"}])
    checks = StoredChecks(StatePageSpider, settings, tmp_path / "data")
    result = checks.run({url: Saved(capture, headers={**HTML, "ETag": '"2024"'})})
    assert result["ok"], result["message"]
    assert result["verdicts"][0]["verdict"] == "baseline"
    agreements = table(checks.store.data_dir, "agreements")
    assert len(agreements) == 135
    etowah = next(a for a in agreements if a["agency"] == "Etowah County Sheriff's Office")
    assert (etowah["state"], etowah["model"], etowah["signed"]) == ("AL", "Jail Enforcement Model", "2020-06-09")
    # The steering committee tables (MOA Name | Meeting Date | ...) are not the list.
    assert not any(a["agency"] in ("Albemarele District Jail", "LaPaz County") for a in agreements)
    # Not modified: the list is as it was, not a page reading.
    again = checks.run({url: Saved(status=304, headers={"ETag": '"2024"'})})
    assert [(v["kind"], v["verdict"]) for v in again["verdicts"]] == [("participating", "unchanged")]


@pytest.mark.e2e
def test_real_crawl_of_a_page_then_its_conditional_recheck(local_site, tmp_path):
    local_site.route("/SBIE", body=board(), headers=HTML, etag='"v1"')
    config = write_config(tmp_path / "config.toml", [{"name": "fl-sbie", "type": "page",
                                                      "url": local_site.url("/SBIE")}])
    first = run_check(config, tmp_path / "data")
    assert first.code == 0, first.stderr
    assert first.source("fl-sbie")["verdicts"][0]["verdict"] == "baseline"
    again = run_check(config, tmp_path / "data")
    assert local_site.seen("/SBIE")[-1].headers["if-none-match"] == '"v1"'
    assert again.source("fl-sbie")["fetched"][0]["status"] == 304
    assert again.source("fl-sbie")["verdicts"][0]["verdict"] == "unchanged"


# -- reading and diffing, without a spider ------------------------------------


def reading(html: str | bytes, selector: str | None = None):
    return read_page(soup_of(html), SBIE, selector)


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
