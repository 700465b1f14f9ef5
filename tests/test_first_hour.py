"""What a newcomer and a bad day hit first (issue "The first hour and the bad
day"): exit codes, one-line errors for bad input, options on either side of
the command, secrets `config check` must name, progress, check children that
die on their own, an unreadable state."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from twisted.internet.error import DNSLookupError
from watch287g.alerts import outbox
from watch287g.check_runner import CRASHED, FAILED, OK, CheckRunner
from watch287g.core.config import load_config
from watch287g.state.store import Store

from tests.support.alerts_env import NOW, agreement_event, record
from tests.support.checks import ROOT, WORKBOOKS, february_site, ice_source, watch287g, write_config
from watch287g.testing.fake_site import LocalServer

@pytest.fixture
def site():
    server = february_site()
    yield server
    server.close()


def ice_config(tmp_path: Path, site: LocalServer, extra: str = "") -> Path:
    path = write_config(tmp_path / "c.toml", [ice_source(site)])
    path.write_text(path.read_text() + extra)
    return path


# --- exit codes ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_check_exits_1_when_its_deliveries_fail(tmp_path, site):
    # An SMTP port nobody listens on: the check itself is fine, delivery is not.
    config = ice_config(tmp_path, site, '\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\nsecurity = "none"\n'
                        'timeout_seconds = 2\n\n[[subscriptions]]\nname = "all"\nemail = "reader@example.org"\n'
                        'types = ["pending.added", "agreement.signed"]\n')
    data = tmp_path / "data"
    assert watch287g(config, data, "check", "--no-notify").code == 0          # the baseline: no events
    site.route("/p.xlsx", body=(WORKBOOKS / "20250226T1833_participatingAgencies-20250226183301.xlsx").read_bytes())
    result = watch287g(config, data, "check", "--json")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["delivery"]["failed"] > 0
    assert result.code == 1, result.stderr


@pytest.mark.e2e
def test_deliver_says_busy_with_exit_3_while_another_run_delivers(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()])
    with FileLock(str(store.data_dir / outbox.DELIVERY_LOCK)):
        result = watch287g(config, store.data_dir, "deliver")
    assert result.code == 3
    assert "another delivery run is in progress" in result.stdout


# --- bad input: one line, state intact ----------------------------------------------------------------


@pytest.mark.e2e
def test_a_data_dir_that_is_a_file_is_one_line_for_every_command(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("")
    not_a_dir = tmp_path / "state-file"
    not_a_dir.write_text("precious")
    for args in (("status",), ("events",), ("check",), ("outbox",)):
        result = watch287g(config, not_a_dir, *args)
        assert result.code == 2, (args, result.stderr)
        assert result.stderr.strip() == f"watch287g: error: the data dir {not_a_dir} is a file, not a folder"
    assert not_a_dir.read_text() == "precious"


def test_events_limit_must_be_positive(cli, capsys):
    with pytest.raises(SystemExit) as usage:
        cli("events", "--limit", "-1")
    assert usage.value.code == 2
    assert "--limit: must be at least 1, not -1" in capsys.readouterr().err


def test_a_subscriber_address_must_be_deliverable(cli):
    code, _, err = cli("subscribe", "--email", "a@b")
    assert code == 2 and "must be one plain e-mail address" in err
    assert cli("subscribe", "--email", "a@b.example")[0] == 0


def test_a_workbook_given_as_the_replay_manifest_is_one_line(cli):
    workbook = WORKBOOKS / "20250221T2149_participatingAgencies-20250221214937.xlsx"
    code, _, err = cli("replay", str(workbook))
    assert code == 2
    assert err.strip().startswith(f"watch287g: error: {workbook} is not a replay manifest")
    assert "codec" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.e2e
def test_global_options_work_after_the_command_too(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[[subscriptions]]\nname = "mine"\nemail = "me@example.org"\n')
    data = str(tmp_path / "data")
    before = subprocess.run([sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", data,
                             "--json", "subscriptions"], capture_output=True, text=True, cwd=ROOT)
    after = subprocess.run([sys.executable, "-m", "watch287g.cli", "subscriptions", "--config", str(config),
                            "--data-dir", data, "--json", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)[0]["name"] == "mine"


# --- secrets config check must name ---------------------------------------------------------------------


@pytest.mark.e2e
def test_config_check_names_a_secret_a_destination_needs(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('[[subscriptions]]\nname = "desk"\nslack_channel = "C0123ABCD"\n\n'
                      '[operator]\nwebhook_env = "OPS_WEBHOOK"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "OPS_WEBHOOK")}
    argv = [sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(tmp_path / "d"),
            "config", "check"]
    missing = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    assert missing.returncode == 2
    assert "$SLACK_BOT_TOKEN is not set (the Slack bot token)" in missing.stderr
    assert "$OPS_WEBHOOK is not set (an incoming-webhook URL)" in missing.stderr
    present = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                             env={**env, "SLACK_BOT_TOKEN": "xoxb-1", "OPS_WEBHOOK": "https://hooks.example/x"})
    assert present.returncode == 0, present.stderr
    assert "OK" in present.stdout


# --- progress and fast failure offline ---------------------------------------------------------------


@pytest.mark.e2e
def test_check_shows_a_line_per_source_as_it_goes(tmp_path, site):
    result = watch287g(ice_config(tmp_path, site), tmp_path / "data", "check", "--no-notify")
    assert result.code == 0
    assert f"checking ice: {site.url('/287g')}" in result.stderr
    quiet = watch287g(ice_config(tmp_path, site), tmp_path / "data", "-q", "check", "--no-notify")
    assert "checking ice" not in quiet.stderr


def test_a_host_that_does_not_resolve_is_not_retried():
    from scrapy import Request
    from scrapy.settings import Settings
    from watch287g.spiders.middlewares import BackoffRetryMiddleware

    settings = Settings()
    settings.setmodule("watch287g.spiders.settings")
    middleware = BackoffRetryMiddleware(settings)
    request = Request("http://ice.invalid/287g")
    import asyncio

    assert asyncio.run(middleware.process_exception(request, DNSLookupError("ice.invalid"))) is None


# --- the service's bad day -----------------------------------------------------------------------------


def test_a_check_child_that_exits_without_a_result_is_a_crash_not_a_recorded_failure(tmp_path):
    runner = CheckRunner(load_config(None), tmp_path)
    assert runner._outcome("ice", "2026-01-01T00:00:00Z", 1, b"", b"ImportError: boom\n", False, 60).status == CRASHED
    report = json.dumps({"sources": [], "message": "page: HTTP 500"}).encode()
    assert runner._outcome("ice", "2026-01-01T00:00:00Z", 1, report, b"", False, 60).status == FAILED
    assert runner._outcome("ice", "2026-01-01T00:00:00Z", 0, b"", b"", False, 60).status == CRASHED


@pytest.mark.e2e
def test_a_folder_named_watch287g_in_the_working_directory_cannot_shadow_the_check(tmp_path, site, monkeypatch):
    shadow = tmp_path / "cwd" / "watch287g"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "cli.py").write_text("raise SystemExit(1)\n")
    monkeypatch.chdir(shadow.parent)
    runner = CheckRunner(load_config(ice_config(tmp_path, site)), tmp_path / "data")
    try:
        outcome = runner.run("ice", timeout=60)
    finally:
        runner.close()
    assert outcome.status == OK, outcome.message


@pytest.mark.e2e
def test_run_on_an_unreadable_state_stops_at_once_and_names_the_backup(tmp_path, site):
    config = ice_config(tmp_path, site)
    data = tmp_path / "data"
    assert watch287g(config, data, "check", "--no-notify").code == 0
    assert watch287g(config, data, "check", "--no-notify").code == 0      # a second write: a backup exists
    state = data / "state.json"
    state.write_bytes(state.read_bytes()[:100])
    result = watch287g(config, data, "run", timeout=60)
    assert result.code == 2
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"watch287g: error: cannot read {state}") and "state.json.1" in line
    # The backup is a whole state: copied over the damaged file, it reads, every part with it.
    shutil.copytree(data, tmp_path / "restored")
    shutil.copyfile(data / "state.json.1", tmp_path / "restored" / "state.json")
    assert Store(tmp_path / "restored").read().checks.count() == 1


# --- the outbox shows the newest error ----------------------------------------------------------------


def test_outbox_status_shows_the_newest_error_not_a_stale_one(tmp_path):
    store = Store(tmp_path / "data")
    first, second = agreement_event(line=1), agreement_event(line=2)
    config_path = tmp_path / "c.toml"
    config_path.write_text('[[subscriptions]]\nname = "desk"\nslack_channel = "C0123ABCD"\n')
    record(store, [first, second], load_config(config_path))
    later = NOW + dt.timedelta(minutes=5)
    with store.write() as db:
        errors = {first["id"]: ("Slack answered HTTP 200: not_in_channel", later),
                  second["id"]: ("ConnectionRefusedError: [Errno 111]", NOW)}
        db.outbox.update(lambda row: True, lambda row: {
            "last_error": errors[row["event_id"]][0],
            "last_error_at": errors[row["event_id"]][1].isoformat().replace("+00:00", "Z")})
    [waiting] = outbox.status(store.read(), NOW)["waiting"]
    assert waiting["last_error"] == "Slack answered HTTP 200: not_in_channel"
