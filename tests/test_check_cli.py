"""`watch287g check`: options, output, exit codes, the check lock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.checks import WORKBOOKS, ROOT, february_site, ice_source, run_check, watch287g, write_config

@pytest.fixture
def server():
    server = february_site()
    yield server
    server.close()


ice = ice_source



@pytest.mark.e2e
def test_human_output_lists_fetches_verdicts_and_events(server, tmp_path):
    config, data = write_config(tmp_path / "c.toml", [ice(server)]), tmp_path / "data"
    first = watch287g(config, data, "check", "--no-notify")
    assert first.code == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "ice: ok - participating baseline, pending baseline"
    assert any(line.split()[:2] == ["participating", "200"] for line in lines)
    assert "  participating baseline p.xlsx, 151 rows" in lines

    server.route("/p.xlsx", body=(WORKBOOKS / "20250226T1833_participatingAgencies-20250226183301.xlsx").read_bytes())
    second = watch287g(config, data, "check", "--no-notify")
    assert second.code == 0
    assert second.stdout.startswith("ice: ok - participating accepted (89 events), pending unchanged")
    assert "agreement.signed       WY Campbell County Sheriff's Office - Warrant Service Officer (was pending)" \
        in second.stdout
    assert "agreement.corrected    FL St. Lucie County Sheriff's Office - Task Force Model " \
           "(signed: 2025-02-19 -> 2025-02-26)" in second.stdout


@pytest.mark.e2e
def test_dry_run_fetches_and_parses_but_writes_nothing(server, tmp_path):
    config, data = write_config(tmp_path / "c.toml", [ice(server)]), tmp_path / "data"
    result = run_check(config, data, "--dry-run")
    assert result.code == 0, result.stderr
    assert result.report["dry_run"] is True
    assert [v["verdict"] for v in result.source()["verdicts"]] == ["baseline", "baseline"]
    assert not (data / "state.json").exists() and not (data / "archive").exists()
    assert len(server.seen("/p.xlsx")) == 1


@pytest.mark.e2e
def test_source_option_and_disabled_sources(server, tmp_path):
    other = {"name": "page", "type": "page", "url": server.url("/287g"), "enabled": False}
    config, data = write_config(tmp_path / "c.toml", [ice(server), other]), tmp_path / "data"
    assert [r["source"] for r in run_check(config, data).report["sources"]] == ["ice"]
    only = run_check(config, data, "--source", "page")
    assert [r["source"] for r in only.report["sources"]] == ["page"]
    unknown = run_check(config, data, "--source", "nope")
    assert unknown.code == 2
    assert unknown.stderr.strip() == f"watch287g: error: no source named 'nope' in {config} (configured: ice, page)"


@pytest.mark.parametrize("sources, crawl, message", [
    ([{"name": "ice", "type": "ice", "url": "ftp://example.org/x"}], {},
     "url must be an http(s) address"),
    ([{"name": "ice", "type": "rss", "url": "https://example.org/"}], {}, "type must be one of ice, page"),
    ([{"name": "ice", "type": "page", "url": "https://example.org/", "kind": "signed"}], {},
     "kind must be participating or pending"),
    ([{"name": "a", "type": "page", "url": "https://example.org/"}] * 2, {}, "two sources are named 'a'"),
    ([], {}, "no enabled [[sources]]"),
    ([{"name": "ice", "type": "ice", "url": "https://example.org/"}], {"download_dealy": 1},
     "[crawl]: unknown key 'download_dealy'"),
    ([{"name": "ice", "type": "ice", "url": "https://example.org/"}], {"timeout": -1}, "[crawl].timeout must be"),
])
def test_bad_config_is_one_line_and_exit_2(cli, tmp_path, sources, crawl, message):
    # Refused before any crawl starts, so this can run in-process.
    config = write_config(tmp_path / "c.toml", sources, **crawl)
    code, _out, err = cli("check", config_file=config)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not (cli.data_dir / "state.json").exists()


@pytest.mark.e2e
def test_a_second_check_waits_then_exits_busy(server, tmp_path):
    config, data = write_config(tmp_path / "c.toml", [ice(server)], lock_wait=0.5), tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; "
        f"lock = FileLock({str(data / 'check.lock')!r}); lock.acquire(); print('held', flush=True); "
        "sys.stdin.read()")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_check(config, data)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert result.code == 3
    assert result.stderr.strip() == (f"watch287g: error: another `watch287g check` is running on {data} "
                                     "(waited 0.5 s); try again when it has finished")
    assert server.seen("/287g") == []


@pytest.mark.e2e
def test_demo_runs_the_main_job_offline(tmp_path, monkeypatch):
    # As the README runs it: no config file anywhere (the cwd has none either).
    monkeypatch.delenv("WATCH287G_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    done = subprocess.run([sys.executable, "-m", "watch287g.cli", "demo", "--data-dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "agreement.signed       FL Florida State Guard - Task Force Model (was pending)" in out
    assert "pending.added          VA Loudoun County Sheriff's Office - Warrant Service Officer" in out
    assert "agency: Freedom County Sheriff's Office -> Freeborn County Sheriff's Office" in out
    assert "pending       304" in out
    assert "ice: FAILED - page: the server sent a page titled 'Access Denied'" in out
    assert "events recorded: 21 agreement.corrected, 2 agreement.signed, 2 pending.added, 1 source.failing, " \
           "1 source.recovered" in out
    assert (tmp_path / "demo" / "state.json").exists()
    # Dated as ICE published the lists, not as today.
    assert "same content as the list seen at 2025-03-31T23:15:00Z" in out
    assert "since 2025-04-01T13:05:00Z" in out
    # What a subscriber receives, rendered by the real transports' renderers.
    slack = out.split("What a Slack channel subscribed to these alerts receives")[1].split("And an e-mail")[0]
    assert "*Florida State Guard (FL) signed a Task Force Model agreement*" in slack
    assert "participatingAgencies-20250327195954.xlsx" in slack and "row 71" in slack
    assert "Subject: 287(g): Florida State Guard (FL) signed a Task Force Model agreement" in out
    # Run again on the kept folder: refused in one line, the state untouched.
    state = (tmp_path / "demo" / "state.json").read_bytes()
    again = subprocess.run([sys.executable, "-m", "watch287g.cli", "demo", "--data-dir", str(tmp_path / "demo")],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("already holds a watch287g state: give the demo an empty or new folder")
    assert (tmp_path / "demo" / "state.json").read_bytes() == state


# -- source health (state/health.py), without a crawl ------------------------

def _check(ok: bool, when: str) -> dict:
    return {"source": "ice", "started_at": when, "finished_at": when, "ok": ok,
            "message": "fine" if ok else "page: HTTP 503 Service Unavailable"}


def test_failing_is_told_once_per_streak_and_recovery_once(tmp_path):
    from watch287g.core import events as ev
    from watch287g.state.health import record_check, streak
    from watch287g.state.store import Store

    raised = []
    with Store(tmp_path).write() as db:
        for minute, ok in enumerate([False, True, False, False, False, False, True, True]):
            raised.append([e["type"] for e in record_check(db, _check(ok, f"2026-04-01T10:{minute:02d}:00Z"), 3)])
        assert streak(db, "ice") == {"failures": 0, "since": None, "alerted": False,
                                     "last_ok": "2026-04-01T10:07:00Z"}
        assert db.checks.count() == 8
    # A streak of 1 ends silently; the streak of 4 is told once, its end once.
    assert raised == [[], [], [], [], [ev.SOURCE_FAILING], [], [ev.SOURCE_RECOVERED], []]


def test_check_records_are_trimmed_per_source(tmp_path, monkeypatch):
    from watch287g.state import health
    from watch287g.state import store as store_module
    from watch287g.state.store import Store

    monkeypatch.setattr(store_module, "CHECKS_KEPT_PER_SOURCE", 5)
    with Store(tmp_path).write() as db:
        for minute in range(8):
            health.record_check(db, _check(True, f"2026-04-01T10:{minute:02d}:00Z"), 3)
        kept = [c["started_at"][-6:-4] for c in db.checks.all()]
    assert kept == ["03", "04", "05", "06", "07"]
