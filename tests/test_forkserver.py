"""The check server: checks forked from one pre-imported parent, with every
property of a check child (time limit, process-group kill, outcome, its own
atomic commit, shutdown), against a real site on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from watch287g.check_runner import CHECK_SERVER, CRASHED, INTERRUPTED, OK, TIMEOUT, CheckRunner
from watch287g.core.config import load_config
from watch287g.forkserver import ForkServer
from watch287g.state.store import Store

from tests.support.checks import ROOT, write_config
from watch287g.testing.fake_site import LocalServer

# Real crawls in children of the check server, against a local site.
pytestmark = pytest.mark.e2e
WORKBOOKS = Path(__file__).parent / "fixtures" / "workbooks"
PARTICIPATING = WORKBOOKS / "20250221T2149_participatingAgencies-20250221214937.xlsx"
PENDING = WORKBOOKS / "20250221T2149_pendingAgencies-20250221214937.xlsx"
PAGE = b"""<html><body><h3>287(g) Participating Agencies</h3>
<p><a class="usa-button" href="/p.xlsx">View 287(g) Participating Agencies</a></p>
<h3>287(g) Pending Agencies</h3><p><a class="usa-button" href="/q.xlsx">View 287(g) Pending Agencies</a></p>
</body></html>"""


def serve(server: LocalServer, delay: float = 0.0) -> None:
    """ICE's page and lists; with ``delay`` the participating list hangs that long."""
    server.route("/287g", body=PAGE, headers={"Content-Type": "text/html"})
    server.route("/p.xlsx", body=PARTICIPATING.read_bytes(), delay=delay)
    server.route("/q.xlsx", body=PENDING.read_bytes())


@pytest.fixture
def site():
    server = LocalServer()
    serve(server)
    yield server
    server.close()


@pytest.fixture
def runner(tmp_path, site):
    config = write_config(tmp_path / "c.toml", [{"name": "ice", "type": "ice", "url": site.url("/287g")}])
    check_runner = CheckRunner(load_config(config), tmp_path / "data")
    yield check_runner
    check_runner.close()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "(zombie)" not in Path(f"/proc/{pid}/status").read_text()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def in_thread(func, *args) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(func(*args)), daemon=True)
    thread.start()
    return thread, result


def test_checks_are_forked_from_one_server_and_commit_their_own_results(runner, tmp_path):
    first = runner.run("ice", timeout=60)
    server = runner.server.pid
    second = runner.run("ice", timeout=60)
    assert (first.status, second.status) == (OK, OK), (first.message, second.message)
    assert first.exit_code == 0 and "participating baseline" in first.message
    assert "participating unchanged" in second.message
    assert runner.server.pid == server and alive(server)      # the same parent served both
    assert children(server) == []                              # each child was reaped
    checks = Store(tmp_path / "data").read().checks.all()
    assert [c["ok"] for c in checks] == [True, True]


def test_the_server_preloads_a_whole_check_and_never_starts_a_reactor(tmp_path, site):
    config = write_config(tmp_path / "c.toml", [{"name": "ice", "type": "ice", "url": site.url("/287g")}])
    probe = f"""
import json, sys
from watch287g.check_server import preload
preload()
reactor_installed = "twisted.internet.reactor" in sys.modules
before = set(sys.modules)
from watch287g.cli import main
code = main(["--config", {str(config)!r}, "--data-dir", {str(tmp_path / "data")!r}, "-q", "check", "--json"])
print(json.dumps({{"reactor_installed": reactor_installed, "code": code,
                  "imported": sorted(set(sys.modules) - before)}}))
"""
    done = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert not report["reactor_installed"]
    # What the check still imported: its own reactor, and standard codecs at most.
    late = [name for name in report["imported"] if name != "twisted.internet.reactor"
            and name.split(".")[0] not in sys.stdlib_module_names]
    assert late == []


def test_a_check_past_its_time_limit_is_killed_and_the_server_serves_the_next(runner, site):
    serve(site, delay=60)
    outcome = runner.run("ice", timeout=3)
    assert outcome.status == TIMEOUT and outcome.exit_code is not None and outcome.exit_code != 0
    assert outcome.message == "check timed out after 3 s and was killed"
    assert children(runner.server.pid) == []
    serve(site)
    assert runner.run("ice", timeout=60).status == OK


def test_shutdown_interrupts_the_running_check_and_starts_no_other(runner, site):
    serve(site, delay=60)
    thread, result = in_thread(runner.run, "ice", 60)
    wait_until(lambda: site.seen("/p.xlsx"), 30, "the check to be mid-download")
    runner.interrupt()
    thread.join(45)     # a hang guard: the download alone would take 60 s
    assert not thread.is_alive(), "the interrupted check was not stopped"
    [outcome] = result
    assert outcome.status == INTERRUPTED and outcome.message == "stopped: the service is shutting down"
    assert children(runner.server.pid) == []
    assert runner.run("ice", 60).status == INTERRUPTED


def test_a_server_dying_mid_check_is_a_crashed_check_and_a_new_server_takes_over(runner, site, tmp_path):
    runner.start()
    first_server = runner.server.pid
    serve(site, delay=60)
    thread, result = in_thread(runner.run, "ice", 60)
    wait_until(lambda: site.seen("/p.xlsx"), 30, "the check to be mid-download")
    [child] = children(first_server)
    os.kill(first_server, signal.SIGKILL)
    thread.join(30)
    [outcome] = result
    assert outcome.status == CRASHED
    assert outcome.message == "check process was lost: the check server died while it ran"
    wait_until(lambda: not alive(child), 10, "the orphaned check to be killed")
    assert Store(tmp_path / "data").read().checks.count() == 0     # it recorded nothing
    serve(site)
    assert runner.run("ice", 60).status == OK
    assert runner.server.pid != first_server


def test_a_child_that_exits_without_a_result_is_a_crash_with_its_error(tmp_path, site):
    config = write_config(tmp_path / "c.toml", [{"name": "ice", "type": "ice", "url": site.url("/287g")}])
    (tmp_path / "data").write_text("not a folder")
    runner = CheckRunner(load_config(config), tmp_path / "data")
    try:
        outcome = runner.run("ice", timeout=60)
    finally:
        runner.close()
    assert outcome.status == CRASHED and outcome.exit_code == 2
    assert outcome.message == (f"check process exited with code 2 without a result: watch287g: error: "
                               f"the data dir {tmp_path / 'data'} is a file, not a folder")


def test_the_server_stops_its_check_and_exits_when_the_service_goes_away(tmp_path, site):
    config = write_config(tmp_path / "c.toml", [{"name": "ice", "type": "ice", "url": site.url("/287g")}])
    serve(site, delay=60)
    server = ForkServer(CHECK_SERVER)
    check = server.start_child(["--config", str(config), "--data-dir", str(tmp_path / "data"), "-q", "check"])
    wait_until(lambda: site.seen("/p.xlsx"), 30, "the check to be mid-download")
    process = server._proc
    server.close()
    assert process.returncode == 0
    assert not alive(check.pid)


def test_the_server_refuses_to_be_started_by_hand():
    done = subprocess.run([sys.executable, "-P", "-m", CHECK_SERVER], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("usage: python -P -m watch287g.check_server FD (started by `watch287g run`, "
                                   "not by hand)")
