"""The ICE spider: real crawls (`watch287g check` in a child process) against
a local server serving the real 2025 page capture and real workbooks.

Every failure case asserts the same three things: the check is recorded as
failed with a one-line message, the exit code is 1, and no agreement event
comes out of it.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from watch287g.core import events as ev

from tests.support.checks import run_check, table, write_config
from watch287g.testing.fake_site import LocalServer, Reply

FIXTURES = Path(__file__).parent / "fixtures"
PAGE_PATH = "/identify-and-arrest/287g"
FOLDER = "/doclib/about/offices/ero/287g/"
CAPTURE = gzip.decompress((FIXTURES / "pages" / "2025-06-06_xlsx-button-era.html.gz").read_bytes())
CAPTURED_LINKS = {kind: f"https://www.ice.gov{FOLDER}{kind}Agencies06052025pm.xlsx".encode()
                  for kind in ("participating", "pending")}
WORKBOOKS = FIXTURES / "workbooks"
PART_0221 = (WORKBOOKS / "20250221T2149_participatingAgencies-20250221214937.xlsx").read_bytes()
PART_0226 = (WORKBOOKS / "20250226T1833_participatingAgencies-20250226183301.xlsx").read_bytes()
PEND_0221 = (WORKBOOKS / "20250221T2149_pendingAgencies-20250221214937.xlsx").read_bytes()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html; charset=utf-8"
ACCESS_DENIED = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have "
                 b"permission to access this resource.<P>Reference&#32;&#35;18&#46;9c2b1602</BODY></HTML>")


def ice_page(participating: str | None, pending: str | None) -> bytes:
    """The real capture, its two buttons pointing where the test says (a
    button whose href is None is removed with its paragraph)."""
    page = CAPTURE
    for kind, href in (("participating", participating), ("pending", pending)):
        if href is None:
            start = page.index(b'<p><a class="usa-button', page.index(CAPTURED_LINKS[kind]) - 200)
            page = page[:start] + page[page.index(b"</p>", start) + 4:]
        else:
            page = page.replace(CAPTURED_LINKS[kind], href.encode())
    return page


@pytest.fixture(scope="module")
def shared_server():
    server = LocalServer()
    yield server
    server.close()


@pytest.fixture
def server(shared_server):
    """The module's server, with only robots.txt routed and an empty log."""
    shared_server.routes.clear()
    shared_server.route("/robots.txt", body=b"User-agent: *\nAllow: /\n")
    shared_server.clear_log()
    return shared_server


def serve_site(server) -> None:
    """ICE's page and two workbooks at /doclib names, with validators."""
    server.route(PAGE_PATH, body=ice_page(server.url(FOLDER + "participatingAgencies02212025pm.xlsx"),
                                          server.url(FOLDER + "pendingAgencies02212025pm.xlsx")),
                 headers={"Content-Type": HTML}, etag='"page-1"')
    server.route(FOLDER + "participatingAgencies02212025pm.xlsx", body=PART_0221, headers={"Content-Type": XLSX},
                 etag='"part-1"', last_modified="Fri, 21 Feb 2025 21:49:37 GMT")
    server.route(FOLDER + "pendingAgencies02212025pm.xlsx", body=PEND_0221, headers={"Content-Type": XLSX},
                 etag='"pend-1"')


@pytest.fixture
def site(server, tmp_path):
    """The site, served; returns (config path, fresh data dir)."""
    serve_site(server)
    return config_for(server, tmp_path), tmp_path / "data"


@pytest.fixture(scope="module")
def baseline(shared_server, tmp_path_factory):
    """A data dir after one good check of the site (copied by each test)."""
    folder = tmp_path_factory.mktemp("baseline")
    shared_server.route("/robots.txt", body=b"User-agent: *\nAllow: /\n")
    serve_site(shared_server)
    result = run_check(config_for(shared_server, folder), folder / "data")
    assert result.code == 0, result.stderr
    return folder / "data"


@pytest.fixture
def checked_site(site, baseline):
    """The site, and a copy of the data dir after a good first check."""
    config, data = site
    shutil.copytree(baseline, data)
    return config, data


def config_for(server, tmp_path, **crawl) -> Path:
    return write_config(tmp_path / "config.toml", [{"name": "ice", "type": "ice", "url": server.url(PAGE_PATH)}],
                        **crawl)


def agreement_events(data_dir: Path) -> list[dict]:
    return [e for e in table(data_dir, "events") if e["type"] in ev.AGREEMENT_TYPES
            or e["type"] in (ev.PENDING_ADDED, ev.PENDING_WITHDRAWN)]


def test_first_check_records_both_lists_with_provenance(server, site):
    config, data = site
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    ice = result.source()
    assert ice["ok"] and [v["verdict"] for v in ice["verdicts"]] == ["baseline", "baseline"]
    snapshots = {s["kind"]: s for s in table(data, "snapshots")}
    assert snapshots["participating"]["rows"] == 151 and snapshots["pending"]["rows"] == 41
    part = snapshots["participating"]
    provenance = part["provenance"]
    file_url = server.url(FOLDER + "participatingAgencies02212025pm.xlsx")
    assert provenance["page_url"] == server.url(PAGE_PATH)
    assert provenance["file_url"] == provenance["final_url"] == file_url
    assert provenance["http_status"] == 200
    assert provenance["etag"] == '"part-1"'
    assert provenance["last_modified"] == "Fri, 21 Feb 2025 21:49:37 GMT"
    assert provenance["sha256"] == part["sha256"]
    assert provenance["file_name"] == part["file_name"] == "participatingAgencies02212025pm.xlsx"
    assert provenance["as_of"].startswith("As of June 5, 2025, at 4 p.m., ICE has signed 640")
    assert provenance["page_updated"] == "2025-06-05T15:34:59-04:00"
    assert part["observed_at"] == provenance["fetched_at"]
    assert agreement_events(data) == []          # a baseline announces nothing
    # Polite: robots.txt first, one honest user agent with the contact.
    assert server.requests[0].path == "/robots.txt"
    agent = server.requests[1].headers["user-agent"]
    assert agent.startswith("watch287g/") and "tests@example.org" in agent
    assert all(r.headers["user-agent"] == agent for r in server.requests)


def test_second_check_is_conditional_and_writes_only_a_check_record(server, checked_site):
    config, data = checked_site
    before = {name: len(table(data, name)) for name in ("snapshots", "events", "agreements", "checks")}
    archived = sorted((data / "archive").rglob("*"))
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    assert server.seen(PAGE_PATH)[0].headers["if-none-match"] == '"page-1"'
    part = server.seen(FOLDER + "participatingAgencies02212025pm.xlsx")[0].headers
    assert part["if-none-match"] == '"part-1"' and part["if-modified-since"] == "Fri, 21 Feb 2025 21:49:37 GMT"
    assert server.seen(FOLDER + "pendingAgencies02212025pm.xlsx")[0].headers["if-none-match"] == '"pend-1"'
    ice = result.source()
    assert [f["status"] for f in ice["fetched"]] == [304, 304, 304]
    assert [v["verdict"] for v in ice["verdicts"]] == ["unchanged", "unchanged"]
    after = {name: len(table(data, name)) for name in ("snapshots", "events", "agreements", "checks")}
    assert after == {**before, "checks": before["checks"] + 1}
    assert sorted((data / "archive").rglob("*")) == archived


def test_without_validators_the_body_is_hashed_every_time(server, tmp_path):
    server.route(PAGE_PATH, body=ice_page(FOLDER + "p.xlsx", FOLDER + "q.xlsx"), headers={"Content-Type": HTML})
    server.route(FOLDER + "p.xlsx", body=PART_0221)
    server.route(FOLDER + "q.xlsx", body=PEND_0221)
    config, data = config_for(server, tmp_path), tmp_path / "data"
    assert run_check(config, data).code == 0
    server.route(FOLDER + "p.xlsx", body=PART_0226)     # same address, new content, still no validators
    result = run_check(config, data)
    assert result.code == 0
    assert not any("if-none-match" in r.headers or "if-modified-since" in r.headers for r in server.requests)
    verdicts = {v["kind"]: v["verdict"] for v in result.source()["verdicts"]}
    assert verdicts == {"participating": "accepted", "pending": "unchanged"}
    signed = [e for e in table(data, "events") if e["type"] == ev.SIGNED]
    assert len(signed) == 88
    assert {e["source"]["sha256"] for e in signed} == {result.source()["fetched"][1]["sha256"]}
    assert len(table(data, "snapshots")) == 3    # the unchanged pending list added none


def test_a_page_without_validators_is_read_again_only_when_its_bytes_change(server, tmp_path):
    page = ice_page(FOLDER + "p.xlsx", FOLDER + "q.xlsx")
    server.route(PAGE_PATH, body=page, headers={"Content-Type": HTML})
    for name in ("p.xlsx", "p2.xlsx"):
        server.route(FOLDER + name, body=PART_0221)
    server.route(FOLDER + "q.xlsx", body=PEND_0221)
    config, data = config_for(server, tmp_path), tmp_path / "data"
    assert run_check(config, data).code == 0
    [kept] = [s for s in table(data, "sources") if s["role"] == "page"]
    assert kept["sha256"] == hashlib.sha256(page).hexdigest() and kept["final_url"] == server.url(PAGE_PATH)
    # The same bytes: the links come from what the last reading kept, and
    # the HTML parser is not even loaded.
    probe = (f"import sys; from watch287g.cli import main; code = main(['--config', {str(config)!r}, "
             f"'--data-dir', {str(data)!r}, '-q', 'check', '--no-notify']); print(code, 'bs4' in sys.modules)")
    done = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr
    assert len(server.seen(FOLDER + "p.xlsx")) == 2
    # New bytes: read again, and the new link is followed.
    server.route(PAGE_PATH, body=ice_page(FOLDER + "p2.xlsx", FOLDER + "q.xlsx"), headers={"Content-Type": HTML})
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    assert server.seen(FOLDER + "p2.xlsx") and len(server.seen(FOLDER + "p.xlsx")) == 2


def test_2026_download_links_take_the_name_from_content_disposition(server, tmp_path):
    host = server.base.split("//", 1)[1]
    server.route(PAGE_PATH, body=ice_page(f"//{host}/file-download/download/public/58213",
                                          "/file-download/download/public/58214"), headers={"Content-Type": HTML})
    server.route("/file-download/download/public/58213", body=PART_0221, headers={
        "Content-Type": XLSX, "Content-Disposition": "attachment; filename=\"fallback.xlsx\"; "
                                                     "filename*=UTF-8''Participating%20Agencies%2009042026pm.xlsx"})
    server.route("/file-download/download/public/58214", body=PEND_0221, headers={
        "Content-Type": XLSX, "Content-Disposition": 'attachment; filename="pendingAgencies09042026pm.xlsx"'})
    config, data = config_for(server, tmp_path), tmp_path / "data"
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    names = {s["kind"]: s["file_name"] for s in table(data, "snapshots")}
    assert names == {"participating": "Participating Agencies 09042026pm.xlsx",
                     "pending": "pendingAgencies09042026pm.xlsx"}


def test_a_redirected_workbook_records_its_final_address(server, tmp_path):
    server.route(PAGE_PATH, body=ice_page(FOLDER + "participatingAgencies.xlsx", FOLDER + "q.xlsx"),
                 headers={"Content-Type": HTML})
    server.route(FOLDER + "participatingAgencies.xlsx", status=302,
                 headers={"Location": "/sites/default/files/participatingAgencies02212025pm2.xlsx"})
    server.route("/sites/default/files/participatingAgencies02212025pm2.xlsx", body=PART_0221)
    server.route(FOLDER + "q.xlsx", body=PEND_0221)
    config, data = config_for(server, tmp_path), tmp_path / "data"
    assert run_check(config, data).code == 0
    part = next(s for s in table(data, "snapshots") if s["kind"] == "participating")
    assert part["provenance"]["file_url"] == server.url(FOLDER + "participatingAgencies.xlsx")
    assert part["provenance"]["final_url"] == server.url("/sites/default/files/participatingAgencies02212025pm2.xlsx")
    assert part["file_name"] == "participatingAgencies02212025pm2.xlsx"


def _fault(server, case: str) -> str:
    """Break the site one way; returns a phrase the failure message must contain."""
    part = FOLDER + "participatingAgencies02212025pm.xlsx"
    if case == "page 403":
        server.route(PAGE_PATH, status=403, body=b"Forbidden")
        return "HTTP 403 Forbidden"
    if case == "page 500":
        server.route(PAGE_PATH, status=500, body=b"oops")
        return "HTTP 500 Internal Server Error"
    if case == "page hangs":
        server.route(PAGE_PATH, Reply(delay=30, body=b"late"))
        return "no response within 1 s"
    if case == "page access denied":
        server.route(PAGE_PATH, body=ACCESS_DENIED, headers={"Content-Type": HTML})
        return "Access Denied"
    if case == "page without list link":
        server.route(PAGE_PATH, body=ice_page(None, None).replace(b"287(g) Participating Agencies", b"Map"),
                     headers={"Content-Type": HTML})
        return "no link to the participating agencies list"
    if case == "workbook access denied":
        server.route(part, body=ACCESS_DENIED, headers={"Content-Type": HTML})
        return "Access Denied"
    if case == "workbook 404":
        server.route(part, status=404, body=b"gone")
        return "HTTP 404 Not Found"
    if case == "workbook too large":
        server.route(part, body=PART_0221 + b"\0" * 200_000)
        return "is larger than the 205 KB limit"   # max_workbook_mb = 0.2, in a person's units
    if case == "robots.txt disallows":
        server.route("/robots.txt", body=b"User-agent: watch287g\nDisallow: /doclib/\n")
        return "disallowed by the site's robots.txt"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["page 403", "page 500", "page hangs", "page access denied",
                                  "page without list link", "workbook access denied", "workbook 404",
                                  "workbook too large", "robots.txt disallows"])
def test_failures_are_failed_checks_not_changes(server, checked_site, tmp_path, case):
    _config, data = checked_site                      # after a good first check
    config = config_for(server, tmp_path, timeout=1, max_workbook_mb=0.2)
    phrase = _fault(server, case)
    result = run_check(config, data)
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    check = table(data, "checks")[-1]
    assert check["ok"] is False and phrase in check["message"]
    assert "\n" not in check["message"]
    assert result.report["ok"] is False and phrase in result.report["message"]
    assert agreement_events(data) == []
    assert len(table(data, "snapshots")) == 2          # nothing new recorded as a list


def test_transient_500_is_retried(server, tmp_path):
    data = tmp_path / "data"
    serve_site(server)
    server.route(PAGE_PATH, Reply(status=503, headers={"Retry-After": "0"}), Reply(status=500),
                 Reply(body=ice_page(server.url(FOLDER + "participatingAgencies02212025pm.xlsx"),
                                     server.url(FOLDER + "pendingAgencies02212025pm.xlsx")),
                       headers={"Content-Type": HTML}))
    result = run_check(config_for(server, tmp_path, retries=2), data)
    assert result.code == 0, result.stdout + result.stderr
    assert len(server.seen(PAGE_PATH)) == 3


def test_refused_workbook_is_quarantined_once_and_fails_every_check(server, checked_site):
    config, data = checked_site
    truncated = PART_0226[:20_000]                     # a cut-off download: not a readable zip
    server.route(FOLDER + "participatingAgencies02212025pm.xlsx", body=truncated, etag='"part-2"')
    for _ in range(2):
        result = run_check(config, data)
        assert result.code == 1
        assert result.source()["verdicts"][0]["verdict"] == "quarantined"
    messages = [c["message"] for c in table(data, "checks")[-2:]]
    assert messages[0].startswith("participating list quarantined: unreadable file")
    assert messages[1].startswith("participating list still quarantined: unreadable file")
    quarantined = [e for e in table(data, "events") if e["type"] == ev.SNAPSHOT_QUARANTINED]
    assert len(quarantined) == 1                       # the operator hears once per bad file
    assert agreement_events(data) == []


def test_lists_swapped_by_ice_are_quarantined(server, checked_site):
    config, data = checked_site
    server.route(FOLDER + "participatingAgencies02212025pm.xlsx", body=PEND_0221, etag='"swap"')
    result = run_check(config, data)
    assert result.code == 1
    assert "lists swapped?" in result.report["message"]
    assert agreement_events(data) == []


def test_missing_pending_link_is_a_note_not_a_failure(server, tmp_path):
    server.route(PAGE_PATH, body=ice_page(FOLDER + "p.xlsx", None), headers={"Content-Type": HTML})
    server.route(FOLDER + "p.xlsx", body=PART_0221)
    config, data = config_for(server, tmp_path), tmp_path / "data"
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    ice = result.source()
    assert ice["ok"] and ice["notes"] == ["the page has no link to the pending agencies list"]
    assert [v["kind"] for v in ice["verdicts"]] == ["participating"]
    assert table(data, "checks")[-1]["notes"] == ice["notes"]


def test_failing_source_alerts_the_operator_then_recovers(server, checked_site, tmp_path):
    _config, data = checked_site
    config = write_config(tmp_path / "streak.toml", [{"name": "ice", "type": "ice", "url": server.url(PAGE_PATH),
                                                      "failing_after": 1}])
    good = server.routes[PAGE_PATH]
    server.route(PAGE_PATH, status=403)
    assert run_check(config, data).code == 1
    server.routes[PAGE_PATH] = good
    assert run_check(config, data).code == 0
    operator = [e for e in table(data, "events") if ev.is_operator_event(e)]
    assert [e["type"] for e in operator] == [ev.SOURCE_FAILING, ev.SOURCE_RECOVERED]
    assert operator[0]["last_error"].startswith("page: HTTP 403 Forbidden")
    assert [c["ok"] for c in table(data, "checks")] == [True, False, True]


def test_html_table_era_page_becomes_a_list(server, tmp_path):
    page = gzip.decompress((FIXTURES / "pages" / "2024-12-18_html-table-era.html.gz").read_bytes())
    server.route(PAGE_PATH, body=page, headers={"Content-Type": HTML}, etag='"2024"')
    config, data = config_for(server, tmp_path), tmp_path / "data"
    result = run_check(config, data)
    assert result.code == 0, result.stderr
    [snapshot] = table(data, "snapshots")
    assert snapshot["kind"] == "participating" and snapshot["rows"] == 135 and snapshot["file_name"] is None
    assert snapshot["provenance"]["as_of"].startswith("As of May 2024, ICE has 287(g) JEM agreements")
    etowah = next(a for a in table(data, "agreements") if a["agency"] == "Etowah County Sheriff's Office")
    assert etowah["state"] == "AL" and etowah["signed"] == "2020-06-09"
    again = run_check(config, data)                  # 304: the table is as it was
    assert [v["verdict"] for v in again.source()["verdicts"]] == ["unchanged"]


def test_forced_html_table_format_on_a_workbook_page_fails_clearly(server, site, tmp_path):
    _config, data = site
    config = write_config(tmp_path / "table.toml", [{"name": "ice", "type": "ice", "url": server.url(PAGE_PATH),
                                                     "format": "html-table"}])
    result = run_check(config, data)
    assert result.code == 1
    assert "no list table on the page" in result.report["message"]
