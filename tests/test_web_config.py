"""[web]: every key checked with a one-line error; `config check` notes an
unset secret; `run` and `serve` refuse to start without what they need."""

from __future__ import annotations

import socket

import pytest
from watch287g.testing.smtp import free_port
from watch287g.testing.web_client import SECRET
from watch287g.web.settings import DEFAULT_HOST, DEFAULT_PORT, WebSettings, parse_listen

from tests.support.alerts_env import write_config

ONE_SOURCE = '[[sources]]\nname = "ice"\ntype = "ice"\nurl = "https://www.ice.gov/identify-and-arrest/287g"\n'


@pytest.mark.parametrize("text, message", [
    ('listen = "0.0.0.0"', "[web].listen must be HOST:PORT"),
    ('listen = "127.0.0.1:99999"', "[web].listen: port 99999 is not between 1 and 65535"),
    ('listen = 8287', "[web].listen must be a string"),
    ('public_url = "http://alerts.example.org"', "[web].public_url must use https"),
    ('public_url = "alerts.example.org"', "[web].public_url must be the app's public https:// address"),
    ('public_url = "https://alerts.example.org/?a=1"', "[web].public_url must be the app's public https://"),
    ('secret_env = "my secret"', "[web].secret_env must name an environment variable"),
    ("signups_per_address_per_day = 0", "[web].signups_per_address_per_day must be between 1 and 100"),
    ("signups_per_ip_per_hour = 2.5", "[web].signups_per_ip_per_hour must be a whole number"),
    ("manage_link_days = 1000", "[web].manage_link_days must be between 1 and 366"),
    ("proxy_hops = -1", "[web].proxy_hops must be between 0 and 5"),
    ("lisen = '127.0.0.1:8287'", "[web]: unknown key 'lisen'"),
])
def test_bad_web_settings_are_one_line_naming_the_key(cli, tmp_path, text, message):
    path = tmp_path / "checked.toml"
    path.write_text(f"[web]\n{text}\n")
    code, out, err = cli("config", "check", "--file", str(path))
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("watch287g: error: ") and message in line, line


def test_listen_defaults_to_this_machine_and_a_bare_port_stays_on_it():
    assert WebSettings().address == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8287)
    assert parse_listen("8300", "x") == ("127.0.0.1", 8300)
    assert parse_listen("[::1]:8300", "x") == ("::1", 8300)
    assert parse_listen("0.0.0.0:80", "x") == ("0.0.0.0", 80)        # written out: the operator's choice


def test_web_settings_read_their_defaults_and_report_dir_falls_back_to_report_out_dir(tmp_path):
    config = write_config(tmp_path, '[web]\npublic_url = "https://alerts.example.org/287g/"\n'
                                    '[report]\nout_dir = "/srv/report"\n')
    web = WebSettings.from_config(config)
    assert web.public_url == "https://alerts.example.org/287g" and web.url_prefix == "/287g"
    assert web.listen is None and not web.served_by_run            # public_url alone: links, no server in `run`
    assert str(web.report_dir) == "/srv/report"
    assert web.links.public_url == web.public_url and web.links.manage_link_days == 30


def test_config_check_names_an_unset_secret_and_run_and_serve_refuse_to_start_the_app(cli, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.delenv("WATCH287G_WEB_SECRET", raising=False)
    path = tmp_path / "web.toml"
    path.write_text(ONE_SOURCE + '[web]\npublic_url = "https://alerts.example.org"\n'
                    f'listen = "127.0.0.1:{free_port()}"\n')
    code, out, err = cli("config", "check", "--file", str(path))
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert "[web] public_url is set but $WATCH287G_WEB_SECRET is not set" in line
    assert "the web app cannot start" in line

    for command in ("run", "serve"):
        code, out, err = cli(command, config_file=path)
        assert code == 2, command
        assert err.strip().splitlines()[-1] == (
            "watch287g: error: cannot start the web app: $WATCH287G_WEB_SECRET is not set: it holds the secret "
            "that signs the links in e-mails (make one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"), command

    monkeypatch.setenv("WATCH287G_WEB_SECRET", "short")
    code, out, err = cli("config", "check", "--file", str(path))
    assert code == 2 and "too short (5 characters)" in err
    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)
    assert cli("config", "check", "--file", str(path))[:3:2] == (0, "")


def test_serve_on_a_port_in_use_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("WATCH287G_WEB_SECRET", SECRET)
    path = tmp_path / "web.toml"
    path.write_text(ONE_SOURCE + '[web]\npublic_url = "https://alerts.example.org"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli("serve", "--listen", f"127.0.0.1:{port}", config_file=path)
    assert code == 2 and err.strip() == (f"watch287g: error: the web app cannot listen on 127.0.0.1:{port}: "
                                         "Address already in use")
    code, out, err = cli("serve", "--listen", "nowhere", config_file=path)
    assert code == 2 and "--listen must be HOST:PORT" in err
