"""The Slack app's parts that need no Slack: the /287g parser, [slack_app]
settings and `config check`, the manifest, what replies show."""

from __future__ import annotations

import json
import socket

import pytest
from flask import Flask
from watch287g.core import events as ev
from watch287g.core.config import Config, ConfigError
from watch287g.core.errors import UserError

from watch287g.alerts.subscriptions import Subscription, make_filter
from watch287g.check_runner import CheckOutcome
from watch287g.web.server import WebServer
from watch287g.slackapp import blocks, form
from watch287g.slackapp.commands import CommandError, parse
from watch287g.slackapp.manifest import BOT_SCOPES, manifest
from watch287g.slackapp.settings import SlackAppSettings


# --- the parser ----------------------------------------------------------------------------


@pytest.mark.parametrize("text, states, counties, models, types, cadence", [
    ("subscribe FL signed terminated", ("FL",), (), (), (ev.SIGNED, ev.TERMINATED), "instant"),
    ("subscribe new york North Carolina task force model weekly", ("NY", "NC"), (), ("Task Force Model",),
     ev.DEFAULT_SUBSCRIBED_TYPES, "weekly"),
    ("subscribe county Palm Beach FL signed daily", ("FL",), ("Palm Beach",), (), (ev.SIGNED,), "daily"),
    ("subscribe county “St. Lucie” county Lee JEM", (), ("St. Lucie", "Lee"), ("Jail Enforcement Model",),
     ev.DEFAULT_SUBSCRIBED_TYPES, "instant"),
    ("SUBSCRIBE tx pending.added withdrawn", ("TX",), (), (), (ev.PENDING_ADDED, ev.PENDING_WITHDRAWN), "instant"),
])
def test_subscribe_reads_words_in_any_order_like_the_cli(text, states, counties, models, types, cadence):
    request = parse(text)
    assert request.action == "subscribe" and not request.bare
    assert request.filter == make_filter(states, counties, "", models, types)
    assert request.cadence == cadence


def test_the_other_subcommands_and_help():
    assert parse("").action == "help" and parse("help").action == "help"
    assert parse("subscribe").bare
    assert parse("unsubscribe s12").target == "s12" and parse("unsubscribe").target is None
    assert parse("latest florida").target == "FL" and parse("latest").target is None
    assert [parse(word).action for word in ("list", "check", "status")] == ["list", "check", "status"]
    assert parse("subscribe agency \"sheriff's office\" GA").filter.agency_contains == "sheriff's office"


@pytest.mark.parametrize("text, says", [
    ("frob", "I don't know `frob`"),
    ("subscribe FLX", "I don't know `FLX`"),
    ("subscribe county \"Polk", "a quote is not closed"),
    ("subscribe delivery.failing", "is an operator event"),
    ("unsubscribe s1 s2", "takes one subscription id or name"),
    ("status now", "takes no words after it"),
    ("subscribe `rm -rf` " + "x" * 80, "I don't know `'rm`"),
])
def test_bad_text_is_one_clear_line(text, says):
    with pytest.raises(CommandError) as refused:
        parse(text)
    assert says in str(refused.value) and "\n" not in str(refused.value)


# --- settings and config check --------------------------------------------------------------


def config(**slack_app) -> Config:
    return Config({"slack_app": slack_app}, None)


def test_settings_defaults_and_values():
    assert SlackAppSettings.from_config(Config({}, None)) is None
    default = SlackAppSettings.from_config(config())
    assert (default.mode, default.secret_env, default.host, default.port, default.check_every_minutes) == \
        ("socket", "SLACK_APP_TOKEN", "127.0.0.1", 3000, 10)
    http = SlackAppSettings.from_config(config(mode="http", listen="[::1]:8443", admins=["U0ADMIN01", "S0GROUP1"],
                                               signing_secret_env="MY_SECRET", check_every_minutes=0))
    assert (http.host, http.port, http.secret_env, http.admins) == ("::1", 8443, "MY_SECRET",
                                                                     ("U0ADMIN01", "S0GROUP1"))


@pytest.mark.parametrize("table, says", [
    ({"mode": "webhook"}, "[slack_app].mode must be \"socket\" or \"http\""),
    ({"listen": "3000"}, "[slack_app].listen must be HOST:PORT"),
    ({"listen": "127.0.0.1:70000"}, "[slack_app].listen must be HOST:PORT"),
    ({"admins": ["alice"]}, "[slack_app].admins must list Slack user IDs"),
    ({"admins": "U0ADMIN01"}, "[slack_app].admins must be a list"),
    ({"check_every_minutes": -1}, "[slack_app].check_every_minutes must be between 0 and 1440"),
    ({"app_token_env": "MY-TOKEN"}, "[slack_app].app_token_env must name an environment variable"),
    ({"port": 3000}, "[slack_app]: unknown key 'port'"),
])
def test_bad_settings_are_refused_naming_the_key(table, says):
    with pytest.raises(ConfigError) as refused:
        SlackAppSettings.from_config(config(**table))
    assert says in str(refused.value)


def test_config_check_validates_the_section_and_names_the_secret_it_needs(cli, monkeypatch):
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-set")
    cli.config.write_text('[slack_app]\nmode = "socket"\n')
    code, out, err = cli("config", "check")
    assert code == 2
    assert err.strip().endswith("[slack_app] mode = \"socket\" needs the app-level token (xapp-…) "
                                "in $SLACK_APP_TOKEN, which is not set")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-set")
    code, out, err = cli("config", "check")
    assert code == 0 and "[slack_app]" in out and err == ""

    cli.config.write_text('[slack_app]\nmode = "http"\n')
    code, out, _ = cli("--json", "config", "check")
    assert code == 2 and json.loads(out)["errors"][-1].endswith(
        "[slack_app] mode = \"http\" needs the signing secret in $SLACK_SIGNING_SECRET, which is not set")

    cli.config.write_text('[slack_app]\nmode = "http"\nlisten = "anywhere"\n')
    code, _, err = cli("config", "check")
    assert code == 2 and "[slack_app].listen must be HOST:PORT" in err


def test_run_refuses_to_start_a_slack_app_without_its_secret(cli, monkeypatch):
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-set")
    cli.config.write_text('[[sources]]\nname = "ice"\ntype = "ice"\nurl = "http://127.0.0.1:9/"\n\n'
                          '[slack_app]\n')
    code, _, err = cli("run")
    assert code == 2
    assert err.strip().splitlines()[-1] == ("watch287g: error: [slack_app] mode = \"socket\" needs the app-level "
                                            "token (xapp-…) in $SLACK_APP_TOKEN, which is not set")


def test_a_taken_port_is_one_line_not_a_traceback():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UserError) as refused:
            WebServer(Flask("probe"), ("127.0.0.1", taken.getsockname()[1]))
    assert "cannot listen on 127.0.0.1:" in str(refused.value)


# --- the manifest ---------------------------------------------------------------------------


def test_manifest_for_socket_mode_and_http_mode(cli):
    socket_mode = manifest("socket", None)
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket_mode["settings"]["event_subscriptions"]
    assert socket_mode["features"]["slash_commands"][0]["command"] == "/287g"
    assert socket_mode["features"]["app_home"]["home_tab_enabled"] is True
    assert set(socket_mode["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert socket_mode["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]

    url = "https://watch.example.org/slack/events"
    http = manifest("http", url)
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["features"]["slash_commands"][0]["url"] == url
    assert http["settings"]["interactivity"]["request_url"] == url

    cli.config.write_text('[slack_app]\nmode = "http"\n')
    code, _, err = cli("slack-manifest")
    assert code == 2 and "HTTP mode needs the public address" in err
    code, _, err = cli("slack-manifest", "--request-url", "http://watch.example.org/slack/events")
    assert code == 2 and "must be an https:// address" in err
    code, out, _ = cli("slack-manifest", "--request-url", url)
    assert code == 0 and json.loads(out)["settings"]["event_subscriptions"]["request_url"] == url


# --- what the app shows --------------------------------------------------------------------


def test_typed_and_scraped_text_cannot_become_slack_markup():
    filter_ = make_filter(["FL"], ["<!channel> Polk"], "<@U123> & co", (), ())
    subscription = Subscription(id="s9", destination="slack:C0ESCAPE1", cadence="instant", filter=filter_)
    shown = json.dumps(blocks.subscribed(subscription) + [blocks.home([subscription], None, _report(), _service())],
                       ensure_ascii=False)
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert "&lt;!channel&gt; Polk" in shown and "&lt;@U123&gt; &amp; co" in shown


def test_check_results_give_counts_and_reasons_never_agency_names():
    signed = ev.record_event(ev.SIGNED, {"uid": "u", "state": "FL", "agency": "POLK COUNTY SHERIFF'S OFFICE",
                                         "model": "Task Force Model"}, "2025-03-07T09:00:00Z", {}, None)
    ok = CheckOutcome("ice", "ok", "2025-03-07T09:00:00Z", "2025-03-07T09:00:05Z", 0,
                      "participating accepted (1 event)", [{**signed, "id": 7}])
    busy = CheckOutcome("fl-sbie", "busy", "2025-03-07T09:00:05Z", "2025-03-07T09:00:10Z", 3, "")
    failed = CheckOutcome("tx-sb8", "timeout", "2025-03-07T09:00:10Z", "2025-03-07T09:15:10Z", None,
                          "check timed out after 900 s and was killed")
    text, shown = blocks.check_result([ok, busy, failed], "U0ASKER01")
    said = json.dumps(shown)
    assert text == "New on ICE's lists: 1 signed (FL 1)"
    assert "POLK" not in said.upper() and "<@U0ASKER01>" in said
    assert "another check (started on the server) was running" in said
    assert "the check failed (timeout): check timed out after 900 s" in said
    assert blocks.check_result([], "U0ASKER01")[0] == "The check did not run: the watch287g service stopped first."


def test_the_form_reads_back_what_was_chosen():
    view = form.subscribe_view("C0FORM001")
    assert view["private_metadata"] == "C0FORM001"
    states = next(b for b in view["blocks"] if b["block_id"] == form.STATES_BLOCK)["element"]["options"]
    assert len(states) <= 100 and {"text": {"type": "plain_text", "text": "Florida"}, "value": "FL"} in states
    chosen = form.read({"state": {"values": {
        form.COUNTIES: {form.COUNTIES: {"value": " Polk , ,Lee "}},
        form.TYPES_BLOCK: {form.TYPES_BLOCK: {"selected_options": [{"value": ev.SIGNED}]}},
        form.CADENCE_BLOCK: {form.CADENCE_BLOCK: {"selected_option": {"value": "weekly"}}}}}})
    assert (chosen.counties, chosen.types, chosen.cadence, chosen.states) == (["Polk", "Lee"], [ev.SIGNED],
                                                                              "weekly", [])
    with pytest.raises(form.FormError) as refused:
        form.read({"state": {"values": {form.TYPES_BLOCK: {form.TYPES_BLOCK: {"selected_options": []}}}}})
    assert refused.value.block == form.TYPES_BLOCK


def _report() -> dict:
    return {"lists": [], "agreements": {"listed": 0, "terminated": 0}, "pending": {"listed": 0}}


def _service() -> dict:
    return {"sources": [], "service": {"running": False}, "outbox": {}}
