"""`watch287g config check|show|init`: every layer's validator, one line per error."""

from __future__ import annotations

import json
import tomllib

import pytest
from watch287g.core.config import default_config_text


def write(tmp_path, text: str):
    path = tmp_path / "checked.toml"
    path.write_text(text)
    return path


def test_the_default_config_passes_every_layer(cli, tmp_path):
    path = tmp_path / "init.toml"
    code, out, err = cli("config", "init", str(path))
    assert code == 0 and path.read_text() == default_config_text()
    code, out, err = cli("config", "check", "--file", str(path))
    assert (code, err) == (0, ""), err
    assert out.startswith(f"{path}: OK (")
    for layer in ("[gate] [debounce]", "[crawl]", "[[sources]]", "[service]", "[slack] [email] [outbox] [operator]",
                  "[[subscriptions]]"):
        assert layer in out


def test_init_refuses_to_overwrite_without_force(cli, tmp_path):
    path = tmp_path / "exists.toml"
    path.write_text("# mine\n")
    code, out, err = cli("config", "init", str(path))
    assert code == 2 and err.strip() == f"watch287g: error: {path} exists; use --force to overwrite it"
    assert path.read_text() == "# mine\n"
    assert cli("config", "init", "--force", str(path))[0] == 0
    assert tomllib.loads(path.read_text())


@pytest.mark.parametrize("text, message", [
    ("[service]\ntimezone = 'Mars/Olympus'\n",
     "[service].timezone: unknown time zone 'Mars/Olympus'"),
    ("[service]\nschedule = ['*/15 8-17 * * 1-5']\n",
     "[service].schedule: '*/15 8-17 * * 1-5': write weekdays as names"),
    ("[service]\ncheck_timeout_seconds = 0\n", "[service].check_timeout_seconds must be at least 1, not 0"),
    ("[service.sources.nowhere]\nschedule = ['0 * * * *']\n",
     "[service].sources.nowhere: no [[sources]] entry is named 'nowhere'"),
    ("[gate.participating]\nmax_drop_fraction = 2\n",
     "[gate.participating].max_drop_fraction must be a fraction between 0 and 1"),
    ("[debounce]\nmin_missing_days = 'soon'\n", "[debounce].min_missing_days must be a number"),
    ("[slack]\nbot_token_env = 'xoxb-123-secret'\n", "[slack].bot_token_env must name an environment variable"),
    ("[operator]\nslack_channel = '#ops'\n", "[operator].slack_channel must be a Slack channel ID"),
    ("[[subscriptions]]\nname = 'fl'\nemail = 'desk@example.org'\nstates = ['Atlantis']\n",
     "[[subscriptions]] 'fl'"),
    ("[servce]\ninterval_seconds = 5\n", "unknown section [servce]"),
])
def test_config_check_names_the_key_in_one_line(cli, tmp_path, text, message):
    path = write(tmp_path, text)
    code, out, err = cli("config", "check", "--file", str(path))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"watch287g: error: {path}: "), lines[0]
    assert message in lines[0]


def test_config_check_reports_the_first_error_of_every_layer(cli, tmp_path):
    path = write(tmp_path, "[service]\njitter_seconds = -5\n[email]\nsecurity = 'tls13'\n")
    code, out, err = cli("config", "check", "--json", "--file", str(path))
    assert code == 2
    result = json.loads(out)
    assert not result["ok"] and len(result["errors"]) == 2
    assert "[service].jitter_seconds must be at least 0" in result["errors"][0]
    assert "[email].security must be one of" in result["errors"][1]


def test_config_check_of_a_broken_or_missing_file_is_one_line(cli, tmp_path):
    broken = write(tmp_path, "[service\n")
    code, out, err = cli("config", "check", "--file", str(broken))
    assert code == 2 and len(err.splitlines()) == 1 and "not valid TOML" in err
    code, out, err = cli("config", "check", "--file", str(tmp_path / "absent.toml"))
    assert code == 2 and err.strip() == f"watch287g: error: config file not found: {tmp_path / 'absent.toml'}"


def test_config_show_names_the_file_and_data_dir(cli):
    cli.config.write_text("[service]\njitter_seconds = 5\n")
    code, out, err = cli("config", "show")
    assert code == 0
    assert out.splitlines()[:2] == [f"# config:   {cli.config}", f"# data dir: {cli.data_dir}"]
    assert "jitter_seconds = 5" in out
    code, out, err = cli("config", "show", "--json")
    assert json.loads(out)["config"] == str(cli.config)


def test_config_without_an_action_prints_help_and_exits_2(cli):
    code, out, err = cli("config")
    assert code == 2 and "check" in err and "init" in err


def test_check_now_without_a_service_is_one_line(cli):
    code, out, err = cli("run", "--check-now")
    assert code == 2
    assert err.strip() == (f"watch287g: error: no watch287g service is running on {cli.data_dir} "
                           "(start one with `watch287g run`, or check once with `watch287g check`)")


def test_run_refuses_a_config_without_sources_or_with_errors_in_one_line(cli, tmp_path):
    code, out, err = cli("run")
    assert code == 2 and err.strip() == f"watch287g: error: no enabled [[sources]] in {cli.config}: nothing to watch"
    source = "[[sources]]\nname = 'ice'\ntype = 'ice'\nurl = 'http://127.0.0.1:9/287g'\n"
    code, out, err = cli("run", config_file=write(tmp_path, source + "[service]\nheartbeat_seconds = 0\n"))
    assert code == 2 and err.strip().endswith("[service].heartbeat_seconds must be at least 1, not 0")
    # A mistake of another layer also stops the start, before any state exists.
    path = write(tmp_path, source + "[crawl]\nretries = 'many'\n")
    code, out, err = cli("run", config_file=path)
    assert code == 2
    assert err.splitlines() == [f"watch287g: error: {path}: [crawl].retries must be a number, not 'many'"]
    assert not cli.data_dir.exists()
