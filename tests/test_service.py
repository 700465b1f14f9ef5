"""`watch287g run` end to end: the real service as a subprocess, checking a
local copy of ICE's page whose workbook changes between checks, delivering
to a fake Slack and a real SMTP server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from filelock import FileLock
from watch287g.core import events as ev
from watch287g.state.store import Store

from tests.support.service import (  # noqa: F401 - server, slack and smtp are fixtures
    PARTICIPATING_0306,
    PARTICIPATING_0307,
    checks,
    db,
    mails_to,
    serve_ice,
    server,
    slack,
    smtp,
)
from watch287g.service_status import render_status_section, status_section
from watch287g.testing.fake_site import LocalServer, Reply
from watch287g.testing.fake_slack import FakeSlack
from watch287g.testing.service import Service, wait_for, write_config

# Every test here runs `watch287g run` in a child process against local servers.
pytestmark = pytest.mark.e2e

CHANNEL = "C0SERVICE1"
FAILING, RECOVERED = "The source ice is failing", "The source ice is working again"


def check_server(service: Service) -> int:
    """The pid of the service's check server (watch287g/check_server.py)."""
    found = subprocess.run(["pgrep", "-P", str(service.proc.pid), "-f", "watch287g.check_server"],
                           capture_output=True, text=True).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def slack_event_ids(slack: FakeSlack) -> list[int]:
    ids = []
    for message in slack.messages.get(CHANNEL, []):
        ids.extend(message.get("metadata", {}).get("event_payload", {}).get("events", []))
    return ids


def test_service_checks_on_schedule_alerts_exactly_once_and_tells_the_operator_once(
        tmp_path, server, slack, smtp):
    serve_ice(server, PARTICIPATING_0306)
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", server, """
interval_seconds = 2
deliver_every_seconds = 1
daily_digest = "*/3 * * * * *"
weekly_digest = false
""", f"""
[slack]
api_base_url = "{slack.api_base_url}"

[email]
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
security = "none"
from_address = "alerts@watch287g.example"
timeout_seconds = 5

[operator]
email = "ops@example.org"

[[subscriptions]]
name = "desk"
slack_channel = "{CHANNEL}"

[[subscriptions]]
name = "reporter"
email = "reporter@example.org"

[[subscriptions]]
name = "editor"
email = "editor@example.org"
cadence = "daily"
""")
    service = Service(config, data)
    try:
        service.wait_running()
        # First check: the baseline lists, no events.
        wait_for(lambda: any(c["ok"] for c in checks(data)), 30, "the baseline check", service)
        assert not db(data).events.count()

        # ICE publishes a new list: the next check turns it into events...
        serve_ice(server, PARTICIPATING_0307)

        def subscriber_events():
            found = [e for e in db(data).events.all() if e["type"] in ev.DEFAULT_SUBSCRIBED_TYPES]
            return sorted(e["id"] for e in found)

        ids = wait_for(subscriber_events, 30, "events from the changed list", service)
        assert len(ids) >= 5
        # ...delivered to Slack, to the instant e-mail and in the next daily digest.
        wait_for(lambda: sorted(slack_event_ids(slack)) == ids, 20, "the Slack alerts", service)
        wait_for(lambda: mails_to(smtp, "reporter@example.org"), 20, "the instant e-mail", service)
        wait_for(lambda: mails_to(smtp, "editor@example.org"), 20, "the daily digest", service)

        # The listing is unchanged from here on; several more checks, deliveries and
        # digest runs go by, and nothing is sent twice.
        seen = len(checks(data))
        wait_for(lambda: len(checks(data)) >= seen + 2, 30, "two more checks", service)
        assert sorted(slack_event_ids(slack)) == ids
        assert len(mails_to(smtp, "reporter@example.org")) == 1
        assert len(mails_to(smtp, "editor@example.org")) == 1
        digest = mails_to(smtp, "editor@example.org")[0]
        assert "daily digest" in digest

        # ICE's server fails: two failed checks in a row tell the operator once...
        server.route("/287g", Reply(status=500, body=b"oops"))
        # (Operator alerts are written for people: "The source ice is failing: ...".)
        wait_for(lambda: any(FAILING in m for m in mails_to(smtp, "ops@example.org")), 30,
                 "the source.failing alert", service)
        failed = len(checks(data))
        wait_for(lambda: len(checks(data)) >= failed + 2, 30, "two more failed checks", service)
        # ...and its recovery once.
        serve_ice(server, PARTICIPATING_0307)
        wait_for(lambda: any(RECOVERED in m for m in mails_to(smtp, "ops@example.org")), 30,
                 "the source.recovered alert", service)
        recovered = len(checks(data))
        wait_for(lambda: len(checks(data)) >= recovered + 2, 30, "two more good checks", service)
        operator_mail = mails_to(smtp, "ops@example.org")
        assert sum(FAILING in m for m in operator_mail) == 1
        assert sum(RECOVERED in m for m in operator_mail) == 1
        # Operator alerts never reach subscribers.
        assert all(FAILING not in m for m in mails_to(smtp, "reporter@example.org"))
        assert sorted(slack_event_ids(slack)) == ids

        # `status` has what the heartbeat says: next runs and last results.
        beat = service.heartbeat()
        assert set(beat["next_runs"]) == {"check:ice", "deliver", "digest:daily", "heartbeat"}
        assert beat["last_results"]["ice"]["status"] == "ok"
        section = status_section(Store(data))
        assert section["service"]["running"] and section["service"]["pid"] == service.proc.pid
        [ice] = section["sources"]
        assert ice["last_check"]["ok"] and ice["failure_streak"]["failures"] == 0
        assert section["outbox"]["totals"]["sent"] >= len(ids) * 2
        text = render_status_section(section)
        assert f"service: running (pid {service.proc.pid})" in text and "next check:ice" in text
    finally:
        code = service.stop()
    assert code == 0, service.log()
    assert service.heartbeat()["state"] == "stopped"


def test_sigterm_mid_check_leaves_consistent_state_and_the_next_run_works(tmp_path, server):
    # The participating workbook hangs: the check is mid-crawl when SIGTERM comes.
    serve_ice(server, PARTICIPATING_0306, delay=60)
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", server, """
interval_seconds = 3600
shutdown_grace_seconds = 1
check_timeout_seconds = 60
daily_digest = false
weekly_digest = false
""")
    service = Service(config, data)
    service.wait_running()
    # A second service on the same data dir is refused (busy).
    second = service.cli("run")
    assert second.returncode == 3 and "already running" in second.stderr

    poke = service.cli("run", "--check-now")
    assert poke.returncode == 0, poke.stderr
    assert f"pid {service.proc.pid}" in poke.stdout
    wait_for(lambda: server.seen("/doclib/participatingAgencies.xlsx"), 20, "the check to be mid-download", service)
    [check] = children(check_server(service))
    # The download hangs for 60 s: the service waits out its 1 s grace, then
    # kills the check (stop's 45 s hang guard fails a service that waits for it).
    assert service.stop(timeout=45) == 0, service.log()
    assert "check of ice still running after 1 s: killing it" in service.log()
    wait_for(lambda: not Path(f"/proc/{check}").exists(), 20, "the killed check to be gone")
    assert service.heartbeat()["state"] == "stopped"

    # Consistent state: the file loads, no temporary file was left, no check is running.
    leftovers = [p.name for p in data.rglob("*.tmp")]
    assert leftovers == []
    Store(data).check_usable()
    before = checks(data)
    assert all(not c["ok"] for c in before)     # an interrupted check is never recorded as good

    # The next run: restart, ask for a check, and it completes.
    serve_ice(server, PARTICIPATING_0306)
    service = Service(config, data)
    try:
        service.wait_running()
        # A hand-run `watch287g check` holds the check lock: the service's check
        # waits [crawl] lock_wait, then stands down as busy (not a failure).
        with FileLock(str(data / "check.lock")):
            assert service.cli("run", "--check-now").returncode == 0
            busy = wait_for(lambda: service.heartbeat().get("last_results", {}).get("ice"), 30,
                            "the busy check", service)
        assert busy["status"] == "busy" and busy["exit_code"] == 3
        assert checks(data) == before
        assert service.cli("run", "--check-now").returncode == 0
        wait_for(lambda: any(c["ok"] for c in checks(data)), 30, "a good check after the restart", service)
        assert db(data).meta.get("last_good:ice:participating")["rows"] > 0
    finally:
        assert service.stop() == 0, service.log()


def check_hanging_list(tmp_path: Path, server: LocalServer, extra: str = "") -> Service:
    """A running service (hourly checks, no digests) asked to check now a
    page whose participating list hangs; returns once the list is requested."""
    serve_ice(server, PARTICIPATING_0306, delay=60)
    config = write_config(tmp_path / "config.toml", server, f"""
interval_seconds = 3600
daily_digest = false
weekly_digest = false
{extra}
""")
    service = Service(config, tmp_path / "data")
    service.wait_running()
    assert service.cli("run", "--check-now").returncode == 0
    wait_for(lambda: server.seen("/doclib/participatingAgencies.xlsx"), 30, "the check to be mid-download", service)
    return service


def test_a_hung_check_is_killed_at_its_timeout_and_recorded_once(tmp_path, server):
    data = tmp_path / "data"
    service = check_hanging_list(tmp_path, server, "check_timeout_seconds = 4")
    try:
        wait_for(lambda: checks(data), 30, "the timed-out check's record", service)
        time.sleep(1.5)     # the service's own record would land now, if it double-counted
        failed = checks(data)
        assert len(failed) == 1 and not failed[0]["ok"]
        assert db(data).meta.get("health:ice")["failures"] == 1
        beat = wait_for(lambda: service.heartbeat().get("last_results"), 10, "the heartbeat", service)
        assert beat["ice"]["status"] in ("timeout", "crashed")
        assert service.proc.poll() is None          # the service lives on
        # No process of the killed check is left behind: the check server has no child.
        assert children(check_server(service)) == []
    finally:
        assert service.stop() == 0, service.log()


def test_a_check_server_that_dies_mid_check_is_a_failed_check_and_is_replaced(tmp_path, server):
    data = tmp_path / "data"
    service = check_hanging_list(tmp_path, server)
    try:
        first = check_server(service)
        os.kill(first, signal.SIGKILL)
        [failed] = wait_for(lambda: checks(data), 30, "the lost check's record", service)
        assert not failed["ok"] and failed["recorded_by"] == "service"
        assert failed["message"] == "check process was lost: the check server died while it ran"
        assert db(data).meta.get("health:ice")["failures"] == 1
        assert service.proc.poll() is None
        serve_ice(server, PARTICIPATING_0306)
        assert service.cli("run", "--check-now").returncode == 0
        wait_for(lambda: any(c["ok"] for c in checks(data)), 30, "a good check from a new server", service)
        second = check_server(service)
        assert second != first
    finally:
        assert service.stop() == 0, service.log()
    assert not Path(f"/proc/{second}").exists()      # the service stopped its check server
