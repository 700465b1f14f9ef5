"""The Slack app in Socket Mode, end to end: `watch287g run` asks the fake
Slack's apps.connections.open (with the app-level token) for a websocket
address, connects to a local websocket server standing in for Slack's, and
answers the envelopes it is sent; its Web API calls go to the fake Slack."""

from __future__ import annotations

import json
import time

import pytest
from watch287g.core import events as ev

from tests.support.service import PARTICIPATING_0306, checks, db, serve_ice
from watch287g.testing.fake_site import LocalServer
from watch287g.testing.fake_slack import VALID_APP_TOKEN, FakeSlack
from watch287g.testing.service import Service, wait_for, write_config
from watch287g.testing.slack_requests import command_fields, event_body, home_opened
from watch287g.testing.socket_mode import FakeSocketMode

# Every test here runs `watch287g run` in a child process.
pytestmark = pytest.mark.e2e

USER = "U0SOCKET1"
CHANNEL = "C0SOCKET01"


@pytest.fixture
def slack():
    fake, socket = FakeSlack(), FakeSocketMode()
    fake.add_channel(CHANNEL, members=[USER])
    yield fake, socket
    socket.close()
    fake.close()


@pytest.fixture
def site():
    server = LocalServer()
    serve_ice(server, PARTICIPATING_0306)
    yield server
    server.close()


def start(tmp_path, site, fake) -> Service:
    config = write_config(tmp_path / "config.toml", site, """
schedule = ["0 0 1 1 *"]
daily_digest = false
weekly_digest = false
""", f"""
[slack]
api_base_url = "{fake.api_base_url}"

[slack_app]
check_every_minutes = 10
""")
    service = Service(config, tmp_path / "data", env={"SLACK_APP_TOKEN": VALID_APP_TOKEN})
    service.wait_running()
    return service


def test_socket_mode_connects_answers_commands_and_the_home_tab(tmp_path, site, slack):
    fake, socket = slack
    # Slack refuses the connection at first: the service lives on and tries again.
    service = start(tmp_path, site, fake)
    try:
        wait_for(lambda: "cannot connect to Slack in Socket Mode" in service.log(), 20, "the refusal", service)
        fake.socket_mode_url = socket.url
        assert wait_for(lambda: socket.wait_connected(0.2), 30, "the websocket connection", service)
        opened = fake.calls("apps.connections.open")
        assert len(opened) >= 2

        # A refused command is acknowledged with its error; nothing is stored.
        ack = socket.send("slash_commands", command_fields("subscribe FL flagged", CHANNEL, USER,
                                                           fake.response_url("bad")))
        assert ack["response_type"] == "ephemeral" and "I don't know `flagged`" in ack["text"]
        assert not (service.data_dir / "state.json").exists() or not db(service.data_dir).subscriptions.all()

        ack = socket.send("slash_commands", command_fields("subscribe FL signed", CHANNEL, USER,
                                                           fake.response_url("sub")))
        assert ack == {}
        said = wait_for(lambda: fake.responded("sub"), 20, "the reply", service)[0]
        assert "Subscribed this channel" in json.dumps(said["blocks"])
        [doc] = db(service.data_dir).subscriptions.all()
        assert doc["destination"] == f"slack:{CHANNEL}" and doc["origin"] == "slack"
        assert doc["filter"]["types"] == [ev.SIGNED] and doc["history"][0]["by"] == f"slack:{USER}"

        socket.send("events_api", event_body(home_opened(USER)))
        home = wait_for(lambda: fake.home_views.get(USER), 20, "the Home tab", service)[0]
        assert f"*{doc['id']}*" in json.dumps(home)
    finally:
        assert service.stop() == 0, service.log()


def test_a_second_check_within_the_politeness_floor_reports_the_first_instead(tmp_path, site, slack):
    fake, socket = slack
    fake.socket_mode_url = socket.url
    service = start(tmp_path, site, fake)
    try:
        assert wait_for(lambda: socket.wait_connected(0.2), 30, "the websocket connection", service)
        first = socket.send("slash_commands", command_fields("check", CHANNEL, USER, fake.response_url("c1")))
        assert "Checking ICE's lists now" in first["text"] and "last 10 minutes" in first["text"]
        said = wait_for(lambda: fake.responded("c1"), 30, "the first result", service)[0]
        assert said["response_type"] == "in_channel" and "checked" in json.dumps(said["blocks"])
        assert len(checks(service.data_dir)) == 1

        socket.send("slash_commands", command_fields("check", CHANNEL, USER, fake.response_url("c2")))
        again = wait_for(lambda: fake.responded("c2"), 30, "the second result", service)[0]
        assert "recent enough: not repeated" in json.dumps(again["blocks"])
        time.sleep(1)
        assert len(checks(service.data_dir)) == 1          # ICE was not asked twice
        assert len(site.seen("/doclib/participatingAgencies.xlsx")) == 1
    finally:
        assert service.stop() == 0, service.log()
