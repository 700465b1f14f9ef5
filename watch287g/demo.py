"""``watch287g demo``: the main job, offline, in one command.

A local web server on 127.0.0.1 plays ICE's site: the real 287(g) page
(captured 6 June 2025) and seven real workbooks ICE published between 27 and
31 March 2025, swapped between checks in the order ICE published them. Each
step runs a real ``watch287g check`` (a child process, as every check is:
Scrapy's reactor starts once per process) and prints what it found: the
baseline, signings, a pending application, a typo fix, ICE's switch to
opaque download links, then a blocked check and the recovery.

The demo never touches your state or config: it writes its own config and
uses a temporary data dir (kept only when ``--data-dir`` is given).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

PAGE_PATH = "/identify-and-arrest/287g"
_CAPTURED_HREF = "https://www.ice.gov/doclib/about/offices/ero/287g/{kind}Agencies06052025pm.xlsx"
_CAPTURED_AS_OF = {
    "participating": "As of June 5, 2025, at 4 p.m., ICE has signed 640 Memorandums of Agreement for 287(g) "
                     "programs covering 40 states.",
    "pending": "As of June 5, 2025, at 4 p.m., ICE has 88 pending 287(g) program applications.",
}
_CAPTURED_UPDATED = 'datetime="2025-06-05T15:34:59-04:00" title="06/05/2025">06/05/2025'
ACCESS_DENIED = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have "
                 b"permission to access this server.<P>Reference #18.2f1c1602.1743552000.1a2b3c</BODY></HTML>")


@dataclass(frozen=True)
class Step:
    title: str
    when: dt.datetime                   # when ICE published these lists (US Eastern time)
    participating: str | None           # bundled file name
    pending: str | None
    rows: tuple[int, int] = (0, 0)      # the lists' rows, for the page's "As of" sentences
    downloads: bool = False             # 2026-style /file-download/download/public/<id> links
    blocked: bool = False


EASTERN = dt.timezone(dt.timedelta(hours=-4))
STEPS = (
    Step("ICE's lists of 27 March 2025, 2 p.m.: the first check records them (baseline, no alerts)",
         dt.datetime(2025, 3, 27, 14, 0, tzinfo=EASTERN),
         "participatingAgencies-20250327140009.xlsx", "pendingAgencies-20250327140009.xlsx", (425, 27)),
    Step("27 March, 8 p.m.: a pending application is signed, and a new one arrives",
         dt.datetime(2025, 3, 27, 20, 0, tzinfo=EASTERN),
         "participatingAgencies-20250327195954.xlsx", "pendingAgencies-20250327195954.xlsx", (426, 28)),
    Step("28 March: that new application is signed; the pending list is unchanged (304 Not Modified)",
         dt.datetime(2025, 3, 28, 13, 34, tzinfo=EASTERN),
         "participatingAgencies-20250328133437.xlsx", "pendingAgencies-20250327195954.xlsx", (427, 28)),
    Step("31 March: ICE fixes a typo'd agency name, publishes 20 MOA links, and (as in 2026) serves its files "
         "from /file-download/ addresses named only in Content-Disposition",
         dt.datetime(2025, 3, 31, 19, 10, tzinfo=EASTERN),
         "participatingAgencies-20250331231039.xlsx", "pendingAgencies-20250331231039.xlsx", (427, 27),
         downloads=True),
    Step("1 April: ICE's CDN answers with an 'Access Denied' page: a failed check, never an alert about "
         "agreements (the demo alerts the operator after 1 failure; the default is 3)",
         dt.datetime(2025, 4, 1, 9, 0, tzinfo=EASTERN), None, None, blocked=True),
    Step("1 April, later: the site is back and nothing changed (304s); the operator hears it recovered",
         dt.datetime(2025, 3, 31, 19, 10, tzinfo=EASTERN),
         "participatingAgencies-20250331231039.xlsx", "pendingAgencies-20250331231039.xlsx", (427, 27),
         downloads=True),
)


class Site:
    """ICE's site as the demo plays it: the page and the files of the current step."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._page = gzip.decompress(_data("ice-287g-2025-06-06.html.gz")).decode("utf-8")
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{PAGE_PATH}"

    def show(self, step: Step) -> None:
        routes = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")}
        if step.blocked:
            routes[PAGE_PATH] = (200, {"Content-Type": "text/html"}, ACCESS_DENIED)
        else:
            page = self._page
            for index, (kind, name, rows) in enumerate(zip(("participating", "pending"),
                                                           (step.participating, step.pending), step.rows)):
                content = _data(name)
                if step.downloads:
                    path = f"/file-download/download/public/{58213 + index}"
                    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
                else:
                    path = f"/doclib/about/offices/ero/287g/{name}"
                    headers = {}
                routes[path] = (200, {**headers, **_validators(content, step.when), "Content-Type":
                                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}, content)
                page = page.replace(_CAPTURED_HREF.format(kind=kind), path)
                page = page.replace(_CAPTURED_AS_OF[kind], _as_of(kind, step.when, rows))
            page = page.replace(_CAPTURED_UPDATED, f'datetime="{step.when.isoformat()}" '
                                                      f'title="{step.when:%m/%d/%Y}">{step.when:%m/%d/%Y}')
            body = page.encode("utf-8")
            routes[PAGE_PATH] = (200, {"Content-Type": "text/html; charset=utf-8",
                                       **_validators(body, step.when)}, body)
        self.routes = routes

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run_demo(data_dir: Path | None, out=sys.stdout) -> int:
    """Run every step; returns 0 when each check ended as the demo expects."""
    with tempfile.TemporaryDirectory(prefix="watch287g-demo-") as scratch:
        data = data_dir or Path(scratch) / "data"
        site = Site()
        try:
            config = _write_config(Path(scratch) / "demo.toml", site.page_url)
            print(f"watch287g demo: ICE's site is played by {site.page_url.rsplit('/', 2)[0]}, "
                  f"state in {data}\n", file=out)
            surprises = 0
            for number, step in enumerate(STEPS, start=1):
                site.show(step)
                print(f"Step {number}/{len(STEPS)}. {step.title}", file=out)
                code, text = _check(config, data)
                print("\n".join("    " + line for line in text.splitlines()) + "\n", file=out, flush=True)
                surprises += code != (1 if step.blocked else 0)
        finally:
            site.close()
        _summary(data, out)
        if data_dir is None:
            print("(the demo's state was temporary: run `watch287g demo --data-dir DIR` to keep it, then "
                  "`watch287g --data-dir DIR events` or `status`)", file=out)
        else:
            print(f"explore it: watch287g --data-dir {data} events   (or: status)", file=out)
    return 0 if surprises == 0 else 1


def _check(config: Path, data: Path) -> tuple[int, str]:
    argv = [sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data),
            "check", "--no-notify"]
    # The demo's site is local: a proxy from the environment must not be asked for it.
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, (done.stdout + done.stderr).rstrip()


def _summary(data: Path, out) -> None:
    from collections import Counter

    from watch287g.state.store import Store

    store = Store(data)
    if not store.exists():
        return
    counts = Counter(event["type"] for event in store.read().events.all())
    listed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(f"events recorded: {listed or 'none'}", file=out)


def _write_config(path: Path, page_url: str) -> Path:
    path.write_text(f"""# written by `watch287g demo`
[crawl]
contact = "watch287g demo (local only)"
download_delay = 0
timeout = 10
retries = 0

[[sources]]
name = "ice"
type = "ice"
url = "{page_url}"
failing_after = 1
""", encoding="utf-8")
    return path


def _as_of(kind: str, when: dt.datetime, rows: int) -> str:
    moment = f"{when:%B} {when.day}, {when.year}, at {when.hour % 12 or 12} {'a.m.' if when.hour < 12 else 'p.m.'}"
    if kind == "participating":
        return f"As of {moment}, ICE has signed {rows} Memorandums of Agreement for 287(g) programs."
    return f"As of {moment}, ICE has {rows} pending 287(g) program applications."


def _validators(content: bytes, when: dt.datetime) -> dict[str, str]:
    return {"ETag": f'"{hashlib.sha256(content).hexdigest()[:16]}"', "Last-Modified": format_datetime(
        when.astimezone(dt.timezone.utc), usegmt=True)}


def _data(name: str) -> bytes:
    return resources.files("watch287g").joinpath("demo_data", name).read_bytes()


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            status, headers, body = site.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not found"))
            if status == 200 and headers.get("ETag") and self.headers.get("If-None-Match") == headers["ETag"]:
                status, body = 304, b""
                headers = {"ETag": headers["ETag"]}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    return Handler
