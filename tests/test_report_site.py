"""`watch287g report`: the static site built from replayed real lists, opened
from disk in headless Chromium. The browser checks are `slow`; the quick run
builds the site once and checks its files, links, feeds and escaping."""

from __future__ import annotations

import csv
import http.server
import json
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest
from lxml import html as lxml_html
from selenium.webdriver.common.by import By

from tests.support.atom import assert_valid_atom
from tests.support.browser import chromium, console_errors  # noqa: F401 (fixture)
from tests.support.replays import replay_fixture_lists
from watch287g.export import ROSTER_COLUMNS

AS_OF = "2025-09-22"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return replay_fixture_lists(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def site(data_dir, tmp_path_factory):
    """The report as of the swap day, with the archived workbooks."""
    from watch287g.cli import main

    out = tmp_path_factory.mktemp("out") / "report"
    config = out.parent / "empty.toml"
    config.write_text("")
    assert main(["--config", str(config), "--data-dir", str(data_dir), "-q", "report", "--out", str(out),
                 "--as-of", AS_OF, "--with-archive", "--base-url", "https://example.org/287g/"]) == 0
    return out


def pages(site: Path) -> list[Path]:
    return [site / "index.html", *sorted((site / "states").glob("*.html"))]


@pytest.mark.slow   # in headless Chromium
def test_the_map_draws_one_shape_per_covered_county(chromium, site):
    figures = json.loads((site / "data" / "stats.json").read_text())
    assert figures["as_of"] == "2025-09-22T23:59:59Z" and figures["counties_covered"] > 300
    chromium.get(site.joinpath("index.html").as_uri())
    tagged = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#national-map path[data-fips]'), p => p.dataset.fips)")
    assert len(tagged) == figures["counties_covered"]
    assert set(tagged) == {c["fips"] for c in figures["counties"]}
    assert console_errors(chromium) == []
    # Each shape is drawn, not just present: a real box on the page.
    box = chromium.execute_script("return document.querySelector('path[data-fips=\"12035\"]').getBBox().width")
    assert box > 0


@pytest.mark.slow   # in headless Chromium
def test_pages_open_from_disk_without_errors(chromium, site):
    for page in pages(site)[:6]:
        chromium.get(page.as_uri())
        assert chromium.find_element(By.TAG_NAME, "h1").text.startswith("287(g) agreements")
        assert console_errors(chromium) == [], page.name


@pytest.mark.slow   # in headless Chromium
def test_a_state_page(chromium, site):
    chromium.get((site / "states" / "FL.html").as_uri())
    florida = json.loads((site / "data" / "stats.json").read_text())["by_state"]["FL"]
    rows = chromium.find_elements(By.CSS_SELECTOR, "#roster tbody tr")
    assert len(rows) == florida
    assert len(chromium.find_elements(By.CSS_SELECTOR, "#map-FL path[data-fips]")) == \
        len(chromium.find_elements(By.CSS_SELECTOR, "#county-table tbody tr")) > 50
    assert chromium.find_elements(By.CSS_SELECTOR, "svg#over-time polyline")
    assert console_errors(chromium) == []


@pytest.mark.slow   # in headless Chromium
def test_tables_sort_and_the_map_switches(chromium, site):
    chromium.get(site.joinpath("index.html").as_uri())
    def states():
        return [r.text.split("\n")[0] for r in chromium.find_elements(By.CSS_SELECTOR, "#state-table tbody tr")]
    by_count = states()
    chromium.find_element(By.CSS_SELECTOR, "#state-table thead th:first-child button").click()
    assert states() == sorted(by_count)
    figure = chromium.find_element(By.ID, "map-figure")
    chromium.find_element(By.CSS_SELECTOR, "button[data-map-mode='model']").click()
    assert "by-model" in figure.get_attribute("class")
    fill = chromium.execute_script(
        "return getComputedStyle(document.querySelector('#national-map path.m-tfm')).fill")
    assert fill == "rgb(117, 112, 179)"       # the Task Force Model colour
    assert console_errors(chromium) == []


@pytest.fixture
def strict_server(site):
    """The report folder over HTTP on loopback with a strict Content-Security-Policy."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site), **kwargs)

        def end_headers(self):
            self.send_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow   # in headless Chromium
def test_served_under_a_strict_content_security_policy(chromium, strict_server):
    for page in ("index.html", "states/FL.html"):
        chromium.get(f"{strict_server}/{page}")
        chromium.find_element(By.CSS_SELECTOR, "button[data-map-mode='model']").click()   # the script ran
        assert chromium.find_elements(By.CSS_SELECTOR, ".map-figure.by-model")
        assert console_errors(chromium) == [], page


@pytest.mark.slow   # in headless Chromium
def test_served_by_the_web_app(chromium, site, tmp_path, monkeypatch):
    """The project's own web app serves the folder at /report/ under its CSP."""
    from watch287g.testing.web_client import SECRET
    from tests.support.web_site import Site
    from watch287g.testing.smtp import SmtpServer

    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)
    smtp = SmtpServer().start()
    web = Site(tmp_path, smtp, web_extra=f'report_dir = "{site}"')
    try:
        chromium.get(f"{web.base}/report/")
        figures = json.loads((site / "data" / "stats.json").read_text())
        assert len(chromium.find_elements(By.CSS_SELECTOR, "#national-map path[data-fips]")) == \
            figures["counties_covered"]
        chromium.find_element(By.CSS_SELECTOR, "#state-table a[href='states/FL.html']").click()
        assert chromium.current_url == f"{web.base}/report/states/FL.html"
        chromium.find_element(By.CSS_SELECTOR, "#roster thead th:nth-child(5) button").click()   # the script ran
        assert chromium.find_element(By.CSS_SELECTOR, "#roster thead th:nth-child(5)").get_attribute("aria-sort")
        assert console_errors(chromium) == []
    finally:
        web.close()
        smtp.stop()


def test_no_inline_script_and_every_link_resolves(site):
    for page in pages(site):
        document = lxml_html.parse(str(page)).getroot()
        for script in document.iter("script"):
            assert script.get("src") and not (script.text or "").strip(), page
        assert not [a for el in document.iter() if isinstance(el.tag, str)
                    for a in el.attrib if a.startswith("on")], page
        for link in document.xpath("//@href | //@src"):
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or not parts.path:       # outside links (MOAs, ICE) and #anchors
                continue
            assert (page.parent / urllib.parse.unquote(parts.path)).resolve().is_file(), (page.name, link)


def test_every_event_cites_its_evidence(site):
    document = lxml_html.parse(str(site / "states" / "FL.html")).getroot()
    events = document.xpath("//ol[@class='events']/li")
    assert events
    for event in events:
        evidence = event.xpath(".//p[@class='evidence']")[0]
        assert "ICE file " in evidence.text_content() and "sha256 " in evidence.text_content()
        archived = evidence.xpath(".//a/@href")[0]
        assert (site / "states" / archived).resolve().is_file()


def test_feeds_and_data(site):
    feed_files = sorted((site / "feeds").rglob("*.atom"))
    assert len(feed_files) > 10
    for path in feed_files:
        assert_valid_atom(path.read_bytes())
    assert (site / "feeds" / "all.atom").read_text().count("https://example.org/287g/states/") > 10
    with (site / "data" / "roster-participating.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == ROSTER_COLUMNS
        assert len(list(reader)) == json.loads((site / "data" / "stats.json").read_text())["agreements"]


def test_scraped_text_cannot_inject_markup(cli, data_dir, tmp_path):
    from watch287g.core import events as ev
    from watch287g.state.store import Store

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    with Store(copy).write() as db:
        db.events.add([ev.record_event(
            ev.SIGNED, {"uid": "fl-x", "state": "FL", "agency": "<script>alert(1)</script>", "model": "Task Force Model",
                        "county": '<img src=x onerror="alert(2)">', "moa_url": "javascript:alert(3)"},
            "2025-09-01T09:00:00Z", {"kind": "participating", "file_name": "<b>x</b>.xlsx", "sha256": "a" * 64,
                                     "observed_at": "2025-09-01T09:00:00Z"})])
    out = tmp_path / "report"
    code, _, err = cli("report", "--out", str(out), "--as-of", AS_OF, data=copy)
    assert code == 0, err
    page = (out / "states" / "FL.html").read_text()
    document = lxml_html.fromstring(page)
    assert [s.get("src") for s in document.iter("script")] == ["../assets/report.js"]
    assert not document.xpath("//img | //b | //a[starts-with(@href, 'javascript')]")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.slow   # builds the report twice more
def test_rebuilding_replaces_the_report_and_refuses_other_folders(cli, data_dir, tmp_path):
    out = tmp_path / "report"
    for _ in range(2):
        code, _, err = cli("report", "--out", str(out), "--as-of", AS_OF, data=data_dir)
        assert code == 0, err
    assert (out / ".watch287g-report").is_file()
    # Nothing left behind but the lock that keeps two builds apart.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".report.lock", "config.toml", "report"]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    code, out_text, err = cli("report", "--out", str(precious), data=data_dir)
    assert code == 2 and "is not a watch287g report folder" in err and len(err.strip().splitlines()) == 1
    assert (precious / "thesis.txt").read_text() == "do not delete"


@pytest.mark.parametrize("args,message", [
    (("report",), "give --out DIR or set [report] out_dir"),
    (("report", "--out", "{tmp}/r", "--base-url", "ftp://x"), "must be an http(s) address"),
    (("report", "--out", "{tmp}/r", "--as-of", "2024-01-01"), "no participating list was observed"),
])
def test_bad_input(cli, data_dir, tmp_path, args, message):
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in args], data=data_dir)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_the_config_names_the_folder(cli, data_dir, tmp_path):
    config = tmp_path / "with-report.toml"
    config.write_text(f'[report]\nout_dir = "{tmp_path / "from-config"}"\nbase_url = "https://example.org/x"\n')
    code, out, err = cli("--json", "report", "--as-of", AS_OF, data=data_dir, config_file=config)
    assert code == 0, err
    assert json.loads(out)["out"] == str(tmp_path / "from-config")
    assert "https://example.org/x/feeds/all.atom" in (tmp_path / "from-config" / "feeds" / "all.atom").read_text()
    config.write_text('[report]\nout_dir = 3\n')
    code, _, err = cli("report", data=data_dir, config_file=config)
    assert code == 2 and "[report].out_dir must be a string" in err
