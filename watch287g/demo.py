"""``watch287g demo``: the main job, offline, in one command.

A local web server on 127.0.0.1 plays ICE's site: the real 287(g) page
(captured 6 June 2025) and seven real workbooks ICE published between 27 and
31 March 2025, swapped between checks in the order ICE published them. Each
step runs a real ``watch287g check`` (a child process, as every check is:
Scrapy's reactor starts once per process) with watch287g's clock set to the
moment ICE published that step's lists, and prints what it found: the
baseline, signings, a pending application, a typo fix, ICE's switch to
opaque download links, then a blocked check and the recovery. At the end it
shows what a subscriber receives: one Slack message (as Slack would show
its text) and one e-mail, rendered by the same code that sends them.

The demo never touches your state or config: it writes its own config and
uses a temporary data dir, or an empty one given with ``--data-dir`` (kept).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from email.utils import format_datetime
from importlib import resources
from pathlib import Path

from watch287g.core.errors import UserError
from watch287g.core.timeutil import CLOCK_ENV, to_iso
from watch287g.testing.fake_site import LocalServer, Reply

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
        self.server = LocalServer()
        self._page = gzip.decompress(_data("ice-287g-2025-06-06.html.gz")).decode("utf-8")

    @property
    def page_url(self) -> str:
        return self.server.url(PAGE_PATH)

    def show(self, step: Step) -> None:
        if step.blocked:
            self.server.route(PAGE_PATH, body=ACCESS_DENIED, headers={"Content-Type": "text/html"})
            return
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
            headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            self.server.route(path, _reply(content, step.when, headers))
            page = page.replace(_CAPTURED_HREF.format(kind=kind), path)
            page = page.replace(_CAPTURED_AS_OF[kind], _as_of(kind, step.when, rows))
        page = page.replace(_CAPTURED_UPDATED, f'datetime="{step.when.isoformat()}" '
                                                  f'title="{step.when:%m/%d/%Y}">{step.when:%m/%d/%Y}')
        self.server.route(PAGE_PATH, _reply(page.encode("utf-8"), step.when,
                                            {"Content-Type": "text/html; charset=utf-8"}))

    def close(self) -> None:
        self.server.close()


def run_demo(data_dir: Path | None, out=sys.stdout) -> int:
    """Run every step; returns 0 when each check ended as the demo expects."""
    if data_dir is not None and (data_dir / "state.json").exists():
        # The demo's story starts from nothing: March's lists served again
        # after the later ones would read as ICE undoing its own edits.
        raise UserError(f"{data_dir} already holds a watch287g state: give the demo an empty or new folder")
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
                code, text = _check(config, data, step.when + dt.timedelta(minutes=5))
                print("\n".join("    " + line for line in text.splitlines()) + "\n", file=out, flush=True)
                surprises += code != (1 if step.blocked else 0)
        finally:
            site.close()
        _summary(data, out)
        _what_subscribers_receive(data, out)
        if data_dir is None:
            print("(the demo's state was temporary: run `watch287g demo --data-dir DIR` to keep it, then "
                  "`watch287g --data-dir DIR events` or `status`)", file=out)
        else:
            print(f"explore it: watch287g --data-dir {data} events   (or: status)", file=out)
    return 0 if surprises == 0 else 1


def _check(config: Path, data: Path, when: dt.datetime) -> tuple[int, str]:
    argv = [sys.executable, "-P", "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data),
            "-q", "check", "--no-notify"]
    # The demo's site is local: a proxy from the environment must not be asked for it.
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
           CLOCK_ENV: to_iso(when)}
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


def _what_subscribers_receive(data: Path, out) -> None:
    """One real Slack message and one real e-mail about the demo's first
    signing, as the alert transports would send them."""
    from watch287g.alerts.render_email import render_email
    from watch287g.alerts.render_slack import render_batch
    from watch287g.alerts.settings import AlertSettings
    from watch287g.core import events as ev
    from watch287g.core.config import Config
    from watch287g.core.timeutil import parse_iso
    from watch287g.state.store import Store

    store = Store(data)
    signed = [dict(e) for e in store.read().events.in_order() if e["type"] == ev.SIGNED] if store.exists() else []
    if not signed:
        return
    event, settings = signed[0], AlertSettings.from_config(Config({}, None))   # the defaults
    [message] = render_batch([event], "instant", settings.slack, can_thread=True)
    print("\nWhat a Slack channel subscribed to these alerts receives (its text, as Slack shows it):", file=out)
    print("\n".join("    " + line for line in slack_text(message.blocks).splitlines()), file=out)
    mail = render_email([event], ["demo: every signing, instant. To stop: ask the operator"], "instant",
                        "reader@example.org", "demo", parse_iso(event["observed_at"]), settings.email)
    print("\nAnd an e-mail subscriber:", file=out)
    print(f"    Subject: {mail['Subject']}", file=out)
    print("\n".join("    " + line for line in mail.get_body(("plain",)).get_content().splitlines()), file=out)


def slack_text(blocks: list[dict]) -> str:
    """Block Kit blocks as the reader sees their text (markup left as typed)."""
    lines = []
    for block in blocks:
        if block.get("text"):
            lines.append(block["text"]["text"])
        lines.extend(field["text"] for field in block.get("fields", ()))
        lines.extend(element.get("text", "") for element in block.get("elements", ()) if element.get("text"))
    return "\n".join(lines)


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


def _reply(content: bytes, when: dt.datetime, headers: dict[str, str]) -> Reply:
    """A 200 with the validators a real server gives, so the next check's
    conditional request gets a 304 when nothing changed."""
    return Reply(body=content, headers=headers, etag=f'"{hashlib.sha256(content).hexdigest()[:16]}"',
                 last_modified=format_datetime(when.astimezone(dt.timezone.utc), usegmt=True))


def _data(name: str) -> bytes:
    return resources.files("watch287g").joinpath("demo_data", name).read_bytes()
