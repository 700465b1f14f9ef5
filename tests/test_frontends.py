"""What `watch287g run` serves besides its schedule (watch287g/frontends.py):
the web pages and the Slack app's HTTP route on one app and one server."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from watch287g.core.config import Config
from watch287g.core.errors import UserError
from watch287g.frontends import Frontends
from watch287g.settings import Settings
from watch287g.state.store import Store

from watch287g.testing.smtp import free_port

SECRETS = {"WATCH287G_WEB_SECRET": "s" * 40, "SLACK_SIGNING_SECRET": "signing-secret",
           "SLACK_BOT_TOKEN": "xoxb-test"}


def settings(web_port: int, slack_port: int) -> Settings:
    return Settings(Config({
        "web": {"listen": f"127.0.0.1:{web_port}", "public_url": "https://alerts.example.org"},
        "slack_app": {"mode": "http", "listen": f"127.0.0.1:{slack_port}"},
    }, None))


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def status_of(request: urllib.request.Request | str) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_web_pages_and_slack_events_share_one_server(tmp_path):
    port = free_port()
    frontends = Frontends(settings(port, port), Store(tmp_path), checker=None)
    frontends.start()
    try:
        base = f"http://127.0.0.1:{port}"
        assert status_of(f"{base}/subscribe") == 200                     # a web page
        unsigned = urllib.request.Request(f"{base}/slack/events", data=b"command=%2F287g&text=help",
                                          method="POST")
        assert status_of(unsigned) == 401                                 # Slack's route, verifying
    finally:
        frontends.stop()


def test_two_addresses_for_the_one_server_are_refused_in_one_line(tmp_path):
    web_port, slack_port = free_port(), free_port()
    frontends = Frontends(settings(web_port, slack_port), Store(tmp_path), checker=None)
    with pytest.raises(UserError) as refused:
        frontends.start()
    message = str(refused.value)
    assert "[slack_app] listen and [web] listen must be the same address" in message
    assert f"127.0.0.1:{slack_port} vs 127.0.0.1:{web_port}" in message
    frontends.stop()
