"""Run `watch287g check` as a child process (the Twisted reactor starts once
per process, so every crawl needs its own) and read what it recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from watch287g.state.store import Store
from watch287g.testing.fake_site import LocalServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])

    def source(self, name: str = "ice") -> dict:
        return next(r for r in self.report["sources"] if r["source"] == name)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


# Fast, test-friendly [crawl] settings.
TEST_CRAWL = {"contact": "tests@example.org", "download_delay": 0, "timeout": 10, "retries": 0,
              "retry_backoff": 0, "lock_wait": 1}


def write_config(path: Path, sources: list[dict], **crawl) -> Path:
    """A config with TEST_CRAWL's [crawl] settings and these sources."""
    settings = {**TEST_CRAWL, **crawl}
    lines = ["[crawl]", *(f"{k} = {toml_value(v)}" for k, v in settings.items())]
    for source in sources:
        lines += ["", "[[sources]]", *(f"{k} = {toml_value(v)}" for k, v in source.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def watch287g(config: Path, data_dir: Path, *args: str, timeout: float = 60) -> Result:
    """`watch287g --config CONFIG --data-dir DATA ARGS...` in a child process."""
    argv = [sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data_dir), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return Result(done.returncode, done.stdout, done.stderr)


def run_check(config: Path, data_dir: Path, *args: str, timeout: float = 60) -> Result:
    return watch287g(config, data_dir, "check", "--json", "--no-notify", *args, timeout=timeout)


def table(data_dir: Path, name: str) -> list[dict]:
    """Every document of a table (``events``, ``checks``...), as the store hands them out."""
    store = Store(data_dir)
    return [dict(doc) for doc in getattr(store.read(), name).all()] if store.exists() else []


WORKBOOKS = ROOT / "tests" / "fixtures" / "workbooks"
FEBRUARY_PAGE = b"""<html><body><h3>287(g) Participating Agencies</h3>
<p>As of February 21, 2025, ICE has signed 151 Memorandums of Agreement.</p>
<p><a class="usa-button" href="/p.xlsx">View 287(g) Participating Agencies</a></p>
<h3>287(g) Pending Agencies</h3><p><a class="usa-button" href="/q.xlsx">View 287(g) Pending Agencies</a></p>
</body></html>"""


def february_site() -> LocalServer:
    """ICE's page at /287g with the real lists of 21 February 2025 at
    /p.xlsx and /q.xlsx; tests swap the routes to change the lists."""
    server = LocalServer()
    server.route("/287g", body=FEBRUARY_PAGE, headers={"Content-Type": "text/html"})
    server.route("/p.xlsx", body=(WORKBOOKS / "20250221T2149_participatingAgencies-20250221214937.xlsx").read_bytes())
    server.route("/q.xlsx", body=(WORKBOOKS / "20250221T2149_pendingAgencies-20250221214937.xlsx").read_bytes())
    return server


def ice_source(server: LocalServer, **extra) -> dict:
    return {"name": "ice", "type": "ice", "url": server.url("/287g"), **extra}
