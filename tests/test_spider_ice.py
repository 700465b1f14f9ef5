"""The ICE spider, driven in-process on saved responses: the real page
captures (tests/fixtures/pages), real workbooks (tests/fixtures/workbooks),
the block pages and error statuses a CDN serves, and the exceptions Scrapy's
downloader raises. Each test answers the spider's requests, then looks at the
check it hands over and, where the rule belongs to the application step
(quarantine, health, conditional re-checks), at what committing that check
records in a real store.

What happens on the wire — robots.txt, timeouts, size limits, retries with
back-off, real 304s, the user agent — is shown by a few real crawls
(`watch287g check` in a child process against a local server), marked e2e,
at the end.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import shutil
from pathlib import Path

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from watch287g.core import events as ev
from watch287g.readers import ice_page as page_reader
from watch287g.spiders.base import file_name
from watch287g.spiders.ice import IceSpider
from watch287g.spiders.middlewares import BackoffRetryMiddleware, _retry_after

from tests.support.checks import run_check, table, write_config
from tests.support.saved_responses import (
    Saved,
    SavedCrawl,
    StoredChecks,
    call_back,
    first_requests,
    response_to,
    settings_for,
    spider_for,
)
from watch287g.testing.fake_site import Reply

FIXTURES = Path(__file__).parent / "fixtures"
PAGE_URL = "https://www.ice.gov/identify-and-arrest/287g"
FOLDER = "https://www.ice.gov/doclib/about/offices/ero/287g/"
# The capture's own buttons.
PART_URL = FOLDER + "participatingAgencies06052025pm.xlsx"
PEND_URL = FOLDER + "pendingAgencies06052025pm.xlsx"
CAPTURE = gzip.decompress((FIXTURES / "pages" / "2025-06-06_xlsx-button-era.html.gz").read_bytes())
TABLE_ERA = gzip.decompress((FIXTURES / "pages" / "2024-12-18_html-table-era.html.gz").read_bytes())
WORKBOOKS = FIXTURES / "workbooks"
PART_0221 = (WORKBOOKS / "20250221T2149_participatingAgencies-20250221214937.xlsx").read_bytes()
PART_0226 = (WORKBOOKS / "20250226T1833_participatingAgencies-20250226183301.xlsx").read_bytes()
PEND_0221 = (WORKBOOKS / "20250221T2149_pendingAgencies-20250221214937.xlsx").read_bytes()
PART_MODIFIED = "Fri, 21 Feb 2025 21:49:37 GMT"
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
ACCESS_DENIED = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have "
                 b"permission to access this resource.<P>Reference&#32;&#35;18&#46;9c2b1602</BODY></HTML>")
AS_OF_SIGNED = ("As of June 5, 2025, at 4 p.m., ICE has signed 640 Memorandums of Agreement for 287(g) programs "
                "covering 40 states.")
ICE = {"name": "ice", "type": "ice", "url": PAGE_URL}
SETTINGS = settings_for([ICE])


def ice_page(participating: str | None, pending: str | None) -> bytes:
    """The real capture, its two buttons pointing where the test says (a
    button whose href is None is removed with its paragraph)."""
    page = CAPTURE
    for kind, href in (("participating", participating), ("pending", pending)):
        captured = (PART_URL if kind == "participating" else PEND_URL).encode()
        if href is None:
            start = page.index(b'<p><a class="usa-button', page.index(captured) - 200)
            page = page[:start] + page[page.index(b"</p>", start) + 4:]
        else:
            page = page.replace(captured, href.encode())
    return page


def ice_site(**changed: Saved | BaseException) -> dict[str, Saved | BaseException]:
    """ICE's page as captured and the two workbooks it links, with
    validators; ``changed`` replaces the answer for "page",
    "participating" or "pending"."""
    site = {"page": Saved(CAPTURE, headers={**HTML, "ETag": '"page-1"'}),
            "participating": Saved(PART_0221, headers={**XLSX, "ETag": '"part-1"', "Last-Modified": PART_MODIFIED}),
            "pending": Saved(PEND_0221, headers={**XLSX, "ETag": '"pend-1"'})}
    site.update(changed)
    return {PAGE_URL: site["page"], PART_URL: site["participating"], PEND_URL: site["pending"]}


def not_modified(site: dict[str, Saved]) -> dict[str, Saved]:
    """Every answer a 304 Not Modified, as a server answers a request that
    carries the validators it gave."""
    return {url: Saved(status=304, headers={k: v for k, v in saved.headers.items() if k != "Content-Type"})
            for url, saved in site.items()}


@pytest.fixture
def checks(tmp_path) -> StoredChecks:
    return StoredChecks(IceSpider, SETTINGS, tmp_path / "data")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A data dir after one good check of the site (copied by each test)."""
    data = tmp_path_factory.mktemp("baseline") / "data"
    assert StoredChecks(IceSpider, SETTINGS, data).run(ice_site())["ok"]
    return data


@pytest.fixture
def checked(checks, baseline) -> StoredChecks:
    """The store after one good check of the site."""
    shutil.copytree(baseline, checks.store.data_dir)
    return checks


def agreement_events(data_dir: Path) -> list[dict]:
    return [e for e in table(data_dir, "events") if e["type"] in ev.AGREEMENT_TYPES
            or e["type"] in (ev.PENDING_ADDED, ev.PENDING_WITHDRAWN)]


# -- what the spider hands over ---------------------------------------------------------------------


def test_the_page_then_each_workbook_make_one_check_with_provenance():
    crawl = SavedCrawl(IceSpider, SETTINGS, ice_site())
    check = crawl.check()
    assert [r.url for r in crawl.requests] == [PAGE_URL, PART_URL, PEND_URL]    # one after another
    assert check.failures == [] and check.notes == []
    assert [(f.role, f.status) for f in check.fetched] == [("page", 200), ("participating", 200), ("pending", 200)]
    part, pend = check.lists
    assert (part.kind, part.body, part.file_name) == ("participating", PART_0221,
                                                      "participatingAgencies06052025pm.xlsx")
    assert (pend.kind, pend.body, pend.file_name) == ("pending", PEND_0221, "pendingAgencies06052025pm.xlsx")
    assert part.provenance == {
        "page_url": PAGE_URL, "file_url": PART_URL, "final_url": PART_URL, "http_status": 200,
        "etag": '"part-1"', "last_modified": PART_MODIFIED, "fetched_at": part.fetch.fetched_at,
        "file_name": "participatingAgencies06052025pm.xlsx", "as_of": AS_OF_SIGNED,
        "page_updated": "2025-06-05T15:34:59-04:00", "link_text": "View 287(g) Participating Agencies"}
    assert pend.provenance["as_of"] == "As of June 5, 2025, at 4 p.m., ICE has 88 pending 287(g) program applications."
    # The page's validators and reading are kept for the next check's conditional request.
    [kept] = check.remember
    assert (kept["role"], kept["url"], kept["etag"]) == ("page", PAGE_URL, '"page-1"')
    assert kept["record"]["links"] == {"participating": PART_URL, "pending": PEND_URL}


def test_first_check_records_both_lists_with_provenance(checks):
    result = checks.run(ice_site())
    assert result["ok"] and [v["verdict"] for v in result["verdicts"]] == ["baseline", "baseline"]
    data = checks.store.data_dir
    snapshots = {s["kind"]: s for s in table(data, "snapshots")}
    assert snapshots["participating"]["rows"] == 151 and snapshots["pending"]["rows"] == 41
    part = snapshots["participating"]
    assert part["provenance"]["sha256"] == part["sha256"] == result["fetched"][1]["sha256"]
    assert part["provenance"]["as_of"] == AS_OF_SIGNED
    assert part["file_name"] == "participatingAgencies06052025pm.xlsx"
    assert part["observed_at"] == part["provenance"]["fetched_at"]
    assert agreement_events(data) == []          # a baseline announces nothing


def test_second_check_is_conditional_and_writes_only_a_check_record(checked):
    data = checked.store.data_dir
    before = {name: len(table(data, name)) for name in ("snapshots", "events", "agreements", "checks")}
    archived = sorted((data / "archive").rglob("*"))
    result = checked.run(not_modified(ice_site()))
    page, part, pend = checked.last.requests
    assert page.headers[b"If-None-Match"] == b'"page-1"' and b"If-Modified-Since" not in page.headers
    assert part.headers[b"If-None-Match"] == b'"part-1"'
    assert part.headers[b"If-Modified-Since"] == PART_MODIFIED.encode()
    assert pend.headers[b"If-None-Match"] == b'"pend-1"'
    assert result["ok"] and [f["status"] for f in result["fetched"]] == [304, 304, 304]
    # The page was not read again: its links come from the reading kept last time.
    assert (part.url, pend.url) == (PART_URL, PEND_URL)
    assert [v["verdict"] for v in result["verdicts"]] == ["unchanged", "unchanged"]
    after = {name: len(table(data, name)) for name in ("snapshots", "events", "agreements", "checks")}
    assert after == {**before, "checks": before["checks"] + 1}
    assert sorted((data / "archive").rglob("*")) == archived


def test_a_304_to_a_request_that_was_not_conditional_fails_the_check(checks):
    result = checks.run(not_modified(ice_site()))
    assert not result["ok"]
    assert result["message"] == "page: HTTP 304 Not Modified to a request that was not conditional"
    assert table(checks.store.data_dir, "snapshots") == []


def test_without_validators_the_body_is_hashed_every_time(checks):
    bare = {"participating": Saved(PART_0221), "pending": Saved(PEND_0221)}
    assert checks.run(ice_site(**bare))["ok"]
    result = checks.run(ice_site(participating=Saved(PART_0226), pending=Saved(PEND_0221)))
    assert not any(b"If-None-Match" in r.headers or b"If-Modified-Since" in r.headers
                   for r in checks.last.requests[1:])
    verdicts = {v["kind"]: v["verdict"] for v in result["verdicts"]}
    assert verdicts == {"participating": "accepted", "pending": "unchanged"}
    data = checks.store.data_dir
    signed = [e for e in table(data, "events") if e["type"] == ev.SIGNED]
    assert len(signed) == 88
    assert {e["source"]["sha256"] for e in signed} == {result["fetched"][1]["sha256"]}
    assert len(table(data, "snapshots")) == 3    # the unchanged pending list added none


def test_a_page_without_validators_is_read_again_only_when_its_bytes_change(checks, monkeypatch):
    readings = []
    read_page = page_reader.read_page
    monkeypatch.setattr(page_reader, "read_page", lambda *args: readings.append(1) or read_page(*args))
    bare = {"page": Saved(CAPTURE, headers=HTML), "participating": Saved(PART_0221), "pending": Saved(PEND_0221)}
    assert checks.run(ice_site(**bare))["ok"] and len(readings) == 1
    [kept] = [s for s in table(checks.store.data_dir, "sources") if s["role"] == "page"]
    assert kept["sha256"] == hashlib.sha256(CAPTURE).hexdigest() and kept["final_url"] == PAGE_URL
    # The same bytes: the links come from what the last reading kept.
    result = checks.run(ice_site(**bare))
    assert result["ok"] and len(readings) == 1
    assert [r.url for r in checks.last.requests] == [PAGE_URL, PART_URL, PEND_URL]
    # New bytes: read again, and the new link is followed.
    moved = FOLDER + "participatingAgencies06062025am.xlsx"
    site = ice_site(**{**bare, "page": Saved(ice_page(moved, PEND_URL), headers=HTML)})
    site[moved] = Saved(PART_0221)
    assert checks.run(site)["ok"] and len(readings) == 2
    assert [r.url for r in checks.last.requests] == [PAGE_URL, moved, PEND_URL]


def test_2026_download_links_take_the_name_from_content_disposition():
    download = "https://www.ice.gov/file-download/download/public/"
    page = ice_page("//www.ice.gov/file-download/download/public/58213", "/file-download/download/public/58214")
    crawl = SavedCrawl(IceSpider, SETTINGS, {
        PAGE_URL: Saved(page, headers=HTML),
        download + "58213": Saved(PART_0221, headers={
            **XLSX, "Content-Disposition": "attachment; filename=\"fallback.xlsx\"; "
                                           "filename*=UTF-8''Participating%20Agencies%2009042026pm.xlsx"}),
        download + "58214": Saved(PEND_0221, headers={
            **XLSX, "Content-Disposition": 'attachment; filename="pendingAgencies09042026pm.xlsx"'})})
    part, pend = crawl.check().lists
    assert (part.file_name, part.provenance["file_url"]) == ("Participating Agencies 09042026pm.xlsx",
                                                             download + "58213")
    assert (pend.file_name, pend.provenance["file_url"]) == ("pendingAgencies09042026pm.xlsx", download + "58214")


@pytest.mark.parametrize("disposition, url, name", [
    ("attachment; filename*=ISO-8859-1''Agencias%20%E9.xlsx", "/x", "Agencias é.xlsx"),
    ("attachment; filename*=no-such-charset''a%20b.xlsx", "/x", "a b.xlsx"),
    ('attachment; filename="say \\"hi\\".xlsx"', "/x", 'say "hi".xlsx'),
    ("attachment; filename=..\\..\\etc/passwd", "/x", "passwd"),          # never a path
    ("attachment; filename=\"a\x07b.xlsx\"", "/x", "ab.xlsx"),               # nor a control character
    (None, "/doclib/pending%20Agencies.xlsx", "pending Agencies.xlsx"),
    (None, "/", None),
])
def test_file_name_from_content_disposition_or_the_address(disposition, url, name):
    request = first_requests(spider_for(IceSpider, SETTINGS))[0].replace(url="https://www.ice.gov" + url)
    headers = {"Content-Disposition": disposition} if disposition else {}
    assert file_name(response_to(request, Saved(b"PK", headers=headers))) == name


def test_a_redirected_workbook_records_its_final_address():
    final = "https://www.ice.gov/sites/default/files/participatingAgencies02212025pm2.xlsx"
    crawl = SavedCrawl(IceSpider, SETTINGS, ice_site(participating=Saved(PART_0221, final_url=final)))
    part = crawl.check().lists[0]
    assert part.provenance["file_url"] == PART_URL
    assert part.provenance["final_url"] == part.fetch.final_url == final
    assert part.file_name == "participatingAgencies02212025pm2.xlsx"


# -- failures: failed checks, never changes -------------------------------------------------------------

FAULTY = settings_for([ICE], timeout=1, max_workbook_mb=0.2)
FAULTS = {
    "page 403": ({"page": Saved(b"Forbidden", status=403)}, "page: HTTP 403 Forbidden from " + PAGE_URL),
    "page 500": ({"page": Saved(b"oops", status=500)}, "page: HTTP 500 Internal Server Error"),
    "page hangs": ({"page": DownloadTimeoutError(f"Getting {PAGE_URL} took longer than 1.0 seconds.")},
                   f"page: no response within 1 s from {PAGE_URL}"),
    "page access denied": ({"page": Saved(ACCESS_DENIED, headers=HTML)}, "page: the server sent a page titled "
                                                                         "'Access Denied'"),
    "page without list link": (
        {"page": Saved(ice_page(None, None).replace(b"287(g) Participating Agencies", b"Map"), headers=HTML)},
        "page: no link to the participating agencies list"),
    "workbook access denied": ({"participating": Saved(ACCESS_DENIED, headers=HTML)},
                               "participating: the server sent an HTML page titled 'Access Denied' instead of "
                               "the workbook (blocked?)"),
    "workbook 404": ({"participating": Saved(b"gone", status=404)}, "participating: HTTP 404 Not Found"),
    "workbook too large": ({"participating": DownloadCancelledError("Cancelling download: size over maxsize")},
                           f"participating: {PART_URL} is larger than the 205 KB limit"),
    "robots.txt disallows": ({"participating": IgnoreRequest("Forbidden by robots.txt")},
                             f"participating: {PART_URL} is disallowed by the site's robots.txt"),
}


@pytest.mark.parametrize("case", FAULTS)
def test_failures_are_failed_checks_not_changes(checked, case):
    changed, phrase = FAULTS[case]
    result = StoredChecks(IceSpider, FAULTY, checked.store.data_dir).run(ice_site(**changed))
    data = checked.store.data_dir
    check = table(data, "checks")[-1]
    assert result["ok"] is False and check["ok"] is False
    assert phrase in check["message"] and "\n" not in check["message"]
    assert agreement_events(data) == []
    assert len(table(data, "snapshots")) == 2          # nothing new recorded as a list


@pytest.mark.parametrize("error, retries, message", [
    (CannotResolveHostError("www.ice.gov"), 0, "cannot resolve host www.ice.gov"),
    (DownloadConnectionRefusedError(), 2, "cannot connect to www.ice.gov (after 3 tries)"),
    (ResponseDataLossError(), 1, f"the download of {PAGE_URL} was cut short (after 2 tries)"),
    (DownloadTimeoutError("took longer"), 2, f"no response within 1 s from {PAGE_URL} (after 3 tries)"),
    (ValueError("a\nstrange   thing"), 0, f"download of {PAGE_URL} failed: a strange thing"),
])
def test_download_errors_become_one_line_failures(error, retries, message):
    [request] = first_requests(spider_for(IceSpider, FAULTY))
    if retries:
        request.meta["retry_times"] = retries      # as RetryMiddleware leaves it on the last try
    [check] = call_back(request, error)
    assert check.failures == [f"page: {message}"]
    assert [(f.role, f.error) for f in check.fetched] == [("page", message)]
    assert check.finished_at is not None and check.lists == []


def test_refused_workbook_is_quarantined_once_and_fails_every_check(checked):
    truncated = PART_0226[:20_000]                     # a cut-off download: not a readable zip
    site = ice_site(participating=Saved(truncated, headers={**XLSX, "ETag": '"part-2"'}))
    for _ in range(2):
        result = checked.run(site)
        assert result["ok"] is False
        assert result["verdicts"][0]["verdict"] == "quarantined"
    data = checked.store.data_dir
    messages = [c["message"] for c in table(data, "checks")[-2:]]
    assert messages[0].startswith("participating list quarantined: unreadable file")
    assert messages[1].startswith("participating list still quarantined: unreadable file")
    quarantined = [e for e in table(data, "events") if e["type"] == ev.SNAPSHOT_QUARANTINED]
    assert len(quarantined) == 1                       # the operator hears once per bad file
    assert agreement_events(data) == []


def test_lists_swapped_by_ice_are_quarantined(checked):
    result = checked.run(ice_site(participating=Saved(PEND_0221, headers={**XLSX, "ETag": '"swap"'})))
    assert result["ok"] is False
    assert "lists swapped?" in result["message"]
    assert agreement_events(checked.store.data_dir) == []


def test_missing_pending_link_is_a_note_not_a_failure(checks):
    result = checks.run(ice_site(page=Saved(ice_page(PART_URL, None), headers=HTML)))
    assert result["ok"] and result["notes"] == ["the page has no link to the pending agencies list"]
    assert [v["kind"] for v in result["verdicts"]] == ["participating"]
    assert [r.url for r in checks.last.requests] == [PAGE_URL, PART_URL]
    assert table(checks.store.data_dir, "checks")[-1]["notes"] == result["notes"]


def test_failing_source_alerts_the_operator_then_recovers(checked):
    streak = StoredChecks(IceSpider, settings_for([{**ICE, "failing_after": 1}]), checked.store.data_dir)
    assert streak.run(ice_site(page=Saved(status=403)))["ok"] is False
    assert streak.run(ice_site())["ok"] is True
    data = checked.store.data_dir
    operator = [e for e in table(data, "events") if ev.is_operator_event(e)]
    assert [e["type"] for e in operator] == [ev.SOURCE_FAILING, ev.SOURCE_RECOVERED]
    assert operator[0]["last_error"].startswith("page: HTTP 403 Forbidden")
    assert [c["ok"] for c in table(data, "checks")] == [True, False, True]


# -- back-off between retries, without a crawl ----------------------------------------------------------


def test_back_off_doubles_honours_retry_after_and_stays_under_the_maximum():
    spider = spider_for(IceSpider, settings_for([ICE], retry_backoff=5, retry_backoff_max=60))
    middleware = BackoffRetryMiddleware(spider.settings)
    [request] = first_requests(spider)

    def wait_before(retry: int, asked: float | None = None) -> float:
        return middleware._delay(request.replace(meta={**request.meta, "retry_times": retry}), asked)

    assert [wait_before(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert wait_before(1, asked=30) == 30 and wait_before(3, asked=1) == 20 and wait_before(1, asked=3600) == 60
    assert _retry_after(b"120") == 120
    in_an_hour = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1),
                                             usegmt=True)
    assert 3000 < _retry_after(in_an_hour.encode()) <= 3600
    assert _retry_after(b"Mon, 01 Jan 2001 00:00:00 GMT") == 0          # a date gone by: no wait
    assert _retry_after(b"soon") is None and _retry_after(None) is None


# -- the HTML-table era -------------------------------------------------------------------------------


def test_html_table_era_page_becomes_a_list(checks):
    result = checks.run({PAGE_URL: Saved(TABLE_ERA, headers={**HTML, "ETag": '"2024"'})})
    assert result["ok"], result["message"]
    assert [r.url for r in checks.last.requests] == [PAGE_URL]      # the MOA links are not lists
    data = checks.store.data_dir
    [snapshot] = table(data, "snapshots")
    assert snapshot["kind"] == "participating" and snapshot["rows"] == 135 and snapshot["file_name"] is None
    assert snapshot["provenance"]["as_of"].startswith("As of May 2024, ICE has 287(g) JEM agreements")
    etowah = next(a for a in table(data, "agreements") if a["agency"] == "Etowah County Sheriff's Office")
    assert etowah["state"] == "AL" and etowah["signed"] == "2020-06-09"
    again = checks.run({PAGE_URL: Saved(status=304, headers={"ETag": '"2024"'})})
    assert checks.last.requests[0].headers[b"If-None-Match"] == b'"2024"'
    assert [v["verdict"] for v in again["verdicts"]] == ["unchanged"]


def test_the_2021_table_is_read_with_absolute_moa_links():
    capture = gzip.decompress((FIXTURES / "pages" / "2021-01-13_html-table-era.html.gz").read_bytes())
    [download] = SavedCrawl(IceSpider, SETTINGS, {PAGE_URL: Saved(capture, headers=HTML)}).check().lists
    assert (download.kind, download.format, download.body) == ("participating", "html-table", None)
    assert download.provenance["as_of"] == ("As of January 2021, ICE has 287(g) JEM agreements with 74 law "
                                            "enforcement agencies in 21 states.")
    header, etowah, *rest = download.rows
    assert [text for text, _link in header] == ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED", "MOA"]
    assert etowah[1] == ("Etowah County Sheriff's Office", None)
    assert etowah[4] == ("link", "https://www.ice.gov/doclib/287gMOA/287gJEM_EtowahCoAl2016-06-18.pdf")
    assert len(rest) == 149


def test_forced_html_table_format_on_a_workbook_page_fails_clearly():
    settings = settings_for([{**ICE, "format": "html-table"}])
    check = SavedCrawl(IceSpider, settings, ice_site()).check()
    assert check.lists == []
    assert check.failures == ["page: no link to the participating agencies list and no list table on the page "
                              "(ICE changed the page?)"]


# -- real crawls: what only the network stack shows (e2e) ---------------------------------------------

LOCAL_FOLDER = "/doclib/about/offices/ero/287g/"


def serve_site(server) -> None:
    """ICE's page and two workbooks at /doclib names, with validators."""
    server.route("/287g", body=ice_page(server.url(LOCAL_FOLDER + "p.xlsx"), server.url(LOCAL_FOLDER + "q.xlsx")),
                 headers=HTML, etag='"page-1"')
    server.route(LOCAL_FOLDER + "p.xlsx", body=PART_0221, headers=XLSX, etag='"part-1"', last_modified=PART_MODIFIED)
    server.route(LOCAL_FOLDER + "q.xlsx", body=PEND_0221, headers=XLSX, etag='"pend-1"')


def local_config(server, tmp_path, **crawl) -> Path:
    return write_config(tmp_path / "config.toml", [{**ICE, "url": server.url("/287g")}], **crawl)


@pytest.mark.e2e
def test_real_crawl_is_polite_and_its_second_check_gets_304s(local_site, tmp_path):
    server = local_site
    serve_site(server)
    config, data = local_config(server, tmp_path), tmp_path / "data"
    first = run_check(config, data)
    assert first.code == 0, first.stderr
    assert [v["verdict"] for v in first.source()["verdicts"]] == ["baseline", "baseline"]
    # Polite: robots.txt first, one honest user agent with the contact.
    assert server.requests[0].path == "/robots.txt"
    agent = server.requests[1].headers["user-agent"]
    assert agent.startswith("watch287g/") and "tests@example.org" in agent
    assert all(r.headers["user-agent"] == agent for r in server.requests)
    server.clear_log()
    second = run_check(config, data)
    assert second.code == 0, second.stderr
    assert server.seen("/287g")[0].headers["if-none-match"] == '"page-1"'
    assert server.seen(LOCAL_FOLDER + "p.xlsx")[0].headers["if-modified-since"] == PART_MODIFIED
    assert [f["status"] for f in second.source()["fetched"]] == [304, 304, 304]
    assert [v["verdict"] for v in second.source()["verdicts"]] == ["unchanged", "unchanged"]


NETWORK_FAULTS = {
    "page hangs": ("/287g", Reply(delay=30, body=b"late"), "no response within 1 s"),
    "workbook too large": (LOCAL_FOLDER + "p.xlsx", Reply(body=PART_0221 + b"\0" * 200_000),
                           "is larger than the 205 KB limit"),
    "robots.txt disallows": ("/robots.txt", Reply(body=b"User-agent: watch287g\nDisallow: /doclib/\n"),
                             "disallowed by the site's robots.txt"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", NETWORK_FAULTS)
def test_real_crawl_network_faults_are_failed_checks(local_site, tmp_path, case):
    server = local_site
    serve_site(server)
    path, reply, phrase = NETWORK_FAULTS[case]
    server.route(path, reply)
    result = run_check(local_config(server, tmp_path, timeout=1, max_workbook_mb=0.2), tmp_path / "data")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.report["ok"] is False and phrase in result.report["message"]
    check = table(tmp_path / "data", "checks")[-1]
    assert check["ok"] is False and phrase in check["message"]
    assert not any(s["kind"] == "participating" for s in table(tmp_path / "data", "snapshots"))


@pytest.mark.e2e
def test_real_crawl_retries_a_transient_500_after_retry_after(local_site, tmp_path):
    server = local_site
    serve_site(server)
    page = server.routes["/287g"][-1]
    server.route("/287g", Reply(status=503, headers={"Retry-After": "0"}), Reply(status=500), page)
    result = run_check(local_config(server, tmp_path, retries=2), tmp_path / "data")
    assert result.code == 0, result.stdout + result.stderr
    assert len(server.seen("/287g")) == 3
