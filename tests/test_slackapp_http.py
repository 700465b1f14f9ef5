"""The Slack app in HTTP mode, end to end: `watch287g run` hosts the real
Bolt app on waitress on loopback; requests are signed as Slack signs them;
the app's Web API calls and replies go to the fake Slack; checks run against
a local copy of ICE's site with real workbooks.

One service serves the whole module (starting one takes seconds); each test
uses its own channel and users, so the tests do not see each other's
subscriptions.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from watch287g.core import events as ev

from tests.support.service import PARTICIPATING_0306, PARTICIPATING_0307, checks, db, serve_ice
from watch287g.testing.fake_site import LocalServer
from watch287g.testing.fake_slack import BOT_USER, FakeSlack
from watch287g.testing.service import Service, wait_for, write_config
from watch287g.testing.slack_requests import SIGNING_SECRET, SlackClient, button, form_submission, home_opened
from watch287g.testing.smtp import free_port

# Every test here runs `watch287g run` in a child process.
pytestmark = pytest.mark.e2e

ADMIN, EDITOR, ALICE, BOB = "U0ADMIN01", "U0EDITOR1", "U0ALICE01", "U0BOB0001"
EDITORS = "S0EDITORS"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slackapp-http")
    server, slack = LocalServer(), FakeSlack()
    slack.usergroups[EDITORS] = [EDITOR]
    serve_ice(server, PARTICIPATING_0306)
    port = free_port()
    config = write_config(tmp / "config.toml", server, """
schedule = ["0 0 1 1 *"]
deliver_every_seconds = 1
daily_digest = false
weekly_digest = false
""", f"""
[slack]
api_base_url = "{slack.api_base_url}"

[slack_app]
mode = "http"
listen = "127.0.0.1:{port}"
check_every_minutes = 0
admins = ["{ADMIN}", "{EDITORS}"]

[[subscriptions]]
name = "desk"
slack_channel = "C0CONFIG01"
""")
    data = tmp / "data"
    service = Service(config, data, env={"SLACK_SIGNING_SECRET": SIGNING_SECRET})
    try:
        service.wait_running()
        yield SimpleNamespace(server=server, slack=slack, service=service, data=data, config=config,
                              client=SlackClient(f"http://127.0.0.1:{port}/slack/events"))
    finally:
        code = service.stop()
        server.close()
        slack.close()
    assert code == 0, service.log()


def stored(data) -> list[dict]:
    if not (data / "state.json").exists():
        return []
    return [dict(doc) for doc in db(data).subscriptions.all()]


def reply(site, name: str, count: int = 1) -> dict:
    """The count-th payload posted to the response URL ``name``."""
    found = wait_for(lambda: len(site.slack.responded(name)) >= count and site.slack.responded(name), 20,
                     f"the reply to {name}", site.service)
    return found[count - 1]


def words(payload: dict) -> str:
    """Everything a reply says, text and blocks, as one string."""
    return payload.get("text", "") + json.dumps(payload.get("blocks", []), ensure_ascii=False)


def command(site, text: str, channel: str, user: str, name: str):
    return site.client.command(text, channel, user, site.slack.response_url(name))


# --- requests not from Slack ------------------------------------------------------------


def test_bad_signature_and_stale_timestamp_get_401_and_change_nothing(site):
    site.slack.add_channel("C0SIGNED1", members=[ALICE])
    before = stored(site.data)
    forged = site.client.command("subscribe FL", "C0SIGNED1", ALICE, site.slack.response_url("forged"),
                                 secret="not-the-secret")
    stale = site.client.command("subscribe FL", "C0SIGNED1", ALICE, site.slack.response_url("stale"),
                                timestamp=time.time() - 10 * 60)
    assert forged.status == 401 and stale.status == 401, (forged, stale)
    # A correctly signed request goes through, so the 401s were the signature's doing.
    good = command(site, "list", "C0SIGNED1", ALICE, "signed")
    assert good.status == 200
    reply(site, "signed")
    assert stored(site.data) == before
    assert site.slack.responded("forged") == [] and site.slack.responded("stale") == []


# --- refused commands -----------------------------------------------------------------------


@pytest.mark.parametrize("text, says", [
    ("frob", "I don't know `frob`. Try `/287g help`"),
    ("subscribe FL flagged", "I don't know `flagged`"),
    ("subscribe county", "`county` needs a name after it"),
    ("subscribe source.failing", "is an operator event"),
    ("subscribe agency sheriff agency police", "give `agency` once"),
    ("latest Atlantis", "`/287g latest` takes one state"),
    ("check now please", "`/287g check` takes no words after it"),
])
def test_unknown_subcommand_and_bad_filter_text_get_a_clear_ephemeral_error_and_store_nothing(site, text, says):
    site.slack.add_channel("C0REFUSE1", members=[ALICE])
    before = stored(site.data)
    answer = command(site, text, "C0REFUSE1", ALICE, "refused")
    assert answer.status == 200
    assert answer.json["response_type"] == "ephemeral"
    assert says in answer.json["text"]
    assert "\n" not in answer.json["text"]
    assert stored(site.data) == before


def test_subscribing_a_channel_the_bot_is_not_in_says_how_to_invite_it_and_stores_nothing(site):
    site.slack.add_channel("C0NOBOT01", members=[ALICE], bot_member=False)
    before = stored(site.data)
    assert command(site, "subscribe FL signed", "C0NOBOT01", ALICE, "nobot").status == 200
    said = reply(site, "nobot")
    assert said["response_type"] == "ephemeral"
    assert "I'm not in this channel" in said["text"] and f"<@{BOT_USER}>" in said["text"]
    assert "Nothing was saved" in said["text"]
    # An unknown (private, unseen) channel is refused the same way.
    assert command(site, "subscribe FL", "C0UNSEEN1", ALICE, "unseen").status == 200
    assert "I'm not in this channel" in reply(site, "unseen")["text"]
    assert stored(site.data) == before


# --- subscribe, list, unsubscribe -----------------------------------------------------------


def test_subscribe_list_and_unsubscribe_record_who_did_what(site):
    site.slack.add_channel("C0TEXAS01", members=[BOB])
    assert command(site, "subscribe Texas North Carolina WSO signed terminated county Rusk weekly",
                   "C0TEXAS01", BOB, "sub").status == 200
    said = reply(site, "sub")
    assert said["response_type"] == "ephemeral"
    text = words(said)
    for part in ("Subscribed this channel", "Texas, North Carolina", "counties: Rusk", "signed, terminated",
                 "WSO", "in a weekly digest"):
        assert part in text, part
    [doc] = [d for d in stored(site.data) if d["destination"] == "slack:C0TEXAS01"]
    assert doc["origin"] == "slack" and doc["status"] == "active" and doc["cadence"] == "weekly"
    assert doc["filter"]["states"] == ["TX", "NC"] and doc["filter"]["models"] == ["Warrant Service Officer"]
    assert doc["filter"]["types"] == [ev.SIGNED, ev.TERMINATED]
    assert [(h["by"], h["what"]) for h in doc["history"]] == [(f"slack:{BOB}", "created")]
    ident = doc["id"]

    command(site, "list", "C0TEXAS01", BOB, "list")
    listed = words(reply(site, "list"))
    assert f"*{ident}*" in listed and "1" in listed

    # Another channel's subscription and the config file's are not this channel's to stop.
    site.slack.add_channel("C0OTHER01", members=[BOB])
    command(site, f"unsubscribe {ident}", "C0OTHER01", BOB, "elsewhere")
    assert f"{ident} is not this channel's subscription" in reply(site, "elsewhere")["text"]
    command(site, "unsubscribe config:desk", "C0OTHER01", BOB, "config")
    assert "config:desk is defined in the config file" in reply(site, "config")["text"]

    command(site, f"unsubscribe {ident}", "C0TEXAS01", BOB, "unsub")
    assert f"Unsubscribed: *{ident}*" in words(reply(site, "unsub"))
    [doc] = [d for d in stored(site.data) if d["id"] == ident]
    assert doc["status"] == "removed"
    assert [(h["by"], h["what"]) for h in doc["history"]] == [(f"slack:{BOB}", "created"),
                                                               (f"slack:{BOB}", "removed")]
    # The CLI shows the same record, with who changed it.
    listing = site.service.cli("subscriptions", "--all").stdout
    assert f"{ident} [removed]: Slack channel C0TEXAS01" in listing
    assert f"removed by slack:{BOB}" in listing
    command(site, "list", "C0TEXAS01", BOB, "list-after")
    assert "no subscriptions" in words(reply(site, "list-after"))


def test_unsubscribe_without_a_name_asks_which_when_there_are_several(site):
    site.slack.add_channel("C0SEVERAL", members=[ALICE])
    for name, text in (("one", "subscribe GA"), ("two", "subscribe AL daily")):
        command(site, text, "C0SEVERAL", ALICE, name)
        reply(site, name)
    command(site, "unsubscribe", "C0SEVERAL", ALICE, "which")
    assert "This channel has 2 subscriptions; say which" in reply(site, "which")["text"]
    assert all(d["status"] == "active" for d in stored(site.data) if d["destination"] == "slack:C0SEVERAL")
    command(site, "unsubscribe all", "C0SEVERAL", ALICE, "all")
    reply(site, "all")
    assert {d["status"] for d in stored(site.data) if d["destination"] == "slack:C0SEVERAL"} == {"removed"}


# --- the form -------------------------------------------------------------------------------


def test_bare_subscribe_opens_the_form_and_its_submission_subscribes(site):
    site.slack.add_channel("C0FORM001", members=[ALICE])
    assert command(site, "subscribe", "C0FORM001", ALICE, "form").status == 200
    view = wait_for(lambda: [v for v in site.slack.opened_views if v["private_metadata"] == "C0FORM001"], 20,
                    "the form", site.service)[0]
    assert view["callback_id"] == "subscribe"
    assert {b["block_id"] for b in view["blocks"]} == {"states", "counties", "models", "types", "cadence"}
    before = stored(site.data)

    def values(counties: str) -> dict:
        return {"states": {"states": {"type": "multi_static_select",
                                      "selected_options": [{"value": "FL"}, {"value": "GA"}]}},
                "counties": {"counties": {"type": "plain_text_input", "value": counties}},
                "models": {"models": {"type": "checkboxes", "selected_options": [{"value": "Task Force Model"}]}},
                "types": {"types": {"type": "checkboxes", "selected_options": [{"value": ev.SIGNED}]}},
                "cadence": {"cadence": {"type": "radio_buttons", "selected_option": {"value": "daily"}}}}

    # A county with no letters is shown under its field; nothing is stored.
    refused = site.client.interaction(form_submission(ALICE, "C0FORM001", values("Polk, ---")))
    assert refused.status == 200 and refused.json["response_action"] == "errors"
    assert "county '---' is empty" in refused.json["errors"]["counties"]
    assert stored(site.data) == before

    accepted = site.client.interaction(form_submission(ALICE, "C0FORM001", values("Polk, Miami-Dade")))
    assert accepted.status == 200 and not accepted.body
    note = wait_for(lambda: [e for e in site.slack.ephemeral if e["channel"] == "C0FORM001"], 20,
                    "the confirmation", site.service)[0]
    assert note["user"] == ALICE and "Subscribed this channel" in json.dumps(note["blocks"])
    [doc] = [d for d in stored(site.data) if d["destination"] == "slack:C0FORM001"]
    assert doc["filter"]["states"] == ["FL", "GA"] and doc["filter"]["counties"] == ["Polk", "Miami-Dade"]
    assert doc["cadence"] == "daily" and doc["history"][0]["by"] == f"slack:{ALICE}"


# --- App Home -------------------------------------------------------------------------------


def home_of(site, user: str, count: int) -> dict:
    views = wait_for(lambda: len(site.slack.home_views.get(user, [])) >= count and site.slack.home_views[user],
                     20, f"{user}'s Home tab", site.service)
    return views[count - 1]


def test_home_lists_the_users_channels_and_its_buttons_pause_resume_and_remove(site):
    site.slack.add_channel("C0HOME001", members=[ALICE, ADMIN])
    command(site, "subscribe FL signed", "C0HOME001", ALICE, "home-sub")
    reply(site, "home-sub")
    [doc] = [d for d in stored(site.data) if d["destination"] == "slack:C0HOME001"]
    ident = doc["id"]

    assert site.client.event(home_opened(BOB)).status == 200
    bob_home = json.dumps(home_of(site, BOB, 1))
    assert f"*{ident}*" not in bob_home                      # not Bob's channel, and Bob is no admin
    assert "Other channels" not in bob_home
    assert site.client.event(home_opened(ALICE)).status == 200
    alice_home = home_of(site, ALICE, 1)
    assert f"*{ident}*" in json.dumps(alice_home)
    assert {"subscription.pause", "subscription.remove"} <= {
        element["action_id"] for block in alice_home["blocks"] if block["type"] == "actions"
        for element in block["elements"] if element.get("value") == ident}
    assert "Checks and health" in json.dumps(alice_home)

    # Bob cannot pause a channel he is not in; the Home tab says why.
    site.client.interaction(button(BOB, "subscription.pause", ident))
    assert "only admins may change it" in json.dumps(home_of(site, BOB, 2))
    assert next(d for d in stored(site.data) if d["id"] == ident)["status"] == "active"

    site.client.interaction(button(ALICE, "subscription.pause", ident))
    home_of(site, ALICE, 2)
    assert next(d for d in stored(site.data) if d["id"] == ident)["status"] == "paused"
    site.client.interaction(button(ALICE, "subscription.resume", ident))
    home_of(site, ALICE, 3)
    assert next(d for d in stored(site.data) if d["id"] == ident)["status"] == "active"
    # An admin sees every channel's subscriptions and may remove any.
    site.client.event(home_opened(EDITOR))
    assert "Other channels" in json.dumps(home_of(site, EDITOR, 1))
    site.client.interaction(button(EDITOR, "subscription.remove", ident))
    home_of(site, EDITOR, 2)
    doc = next(d for d in stored(site.data) if d["id"] == ident)
    assert doc["status"] == "removed"
    assert [(h["by"], h["what"]) for h in doc["history"]] == [
        (f"slack:{ALICE}", "created"), (f"slack:{ALICE}", "paused"), (f"slack:{ALICE}", "resumed"),
        (f"slack:{EDITOR}", "removed")]


# --- help, latest, check, status ---------------------------------------------------------------


def test_help_and_latest_for_a_state_without_events(site):
    answer = command(site, "help", "C0HELP001", ALICE, "help")
    assert answer.json["response_type"] == "ephemeral" and "/287g* watches" in answer.json["text"]
    command(site, "latest AK", "C0HELP001", ALICE, "latest-ak")
    assert "No events recorded for Alaska yet" in words(reply(site, "latest-ak"))


def test_check_is_for_admins_only(site):
    before = len(checks(site.data))
    answer = command(site, "check", "C0CHECK01", BOB, "check-bob")
    assert "Only the admins" in answer.json["text"]
    time.sleep(1)           # a check it had started would be recording now
    assert len(checks(site.data)) == before and site.slack.responded("check-bob") == []


def test_subscribe_fl_signed_then_a_check_posts_florida_signings_once_and_never_double_checks(site):
    channel = "C0FLORIDA1"
    site.slack.add_channel(channel, members=[ALICE])
    command(site, "subscribe FL signed", channel, ALICE, "fl")
    assert "Subscribed this channel" in words(reply(site, "fl"))

    # A check of the current list (the baseline, or unchanged): no alert.
    serve_ice(site.server, PARTICIPATING_0306)
    ack = command(site, "check", channel, ADMIN, "check-1")
    assert ack.json["response_type"] == "ephemeral" and "Checking ICE's lists now" in ack.json["text"]
    first = reply(site, "check-1")
    assert first["response_type"] == "in_channel" and "No change on ICE's lists" in first["text"]
    seen = len(checks(site.data))

    # ICE posts a list adding agreements in Florida and five other states. The
    # workbook downloads slowly, so a second `/287g check` (by a member of the
    # admins' user group) arrives while the first runs: it waits for that check.
    serve_ice(site.server, PARTICIPATING_0307, delay=3)
    assert "Checking ICE's lists now" in command(site, "check", channel, ADMIN, "check-2").json["text"]
    wait_for(lambda: site.server.seen("/doclib/participatingAgencies.xlsx"), 20, "the check to download",
             site.service)
    joined = command(site, "check", channel, EDITOR, "check-3")
    assert "A check is running right now" in joined.json["text"] and "no second check" in joined.json["text"]
    second, third = reply(site, "check-2"), reply(site, "check-3")
    assert len(checks(site.data)) == seen + 1                     # one check, not two
    for said in (second, third):
        assert said["response_type"] == "in_channel"
        assert said["text"] == "New on ICE's lists: 11 signed, 1 corrected (FL 7, KS 1, MT 1, NH 1, NC 1, TX 1)"
        assert "Polk" not in words(said)                         # counts only: details go to subscribers

    events = db(site.data).events.all()
    florida = sorted(e["id"] for e in events if e["type"] == ev.SIGNED and e["state"] == "FL")
    others = {e["id"] for e in events if e["state"] != "FL" or e["type"] != ev.SIGNED}
    assert len(florida) == 6 and others

    def delivered() -> list[int]:
        return [i for m in site.slack.messages.get(channel, [])
                for i in (m.get("metadata") or {}).get("event_payload", {}).get("events", [])]

    wait_for(lambda: sorted(delivered()) == florida, 20, "the Florida alerts", site.service)
    # The next delivery runs and another (unchanged) check send nothing more.
    serve_ice(site.server, PARTICIPATING_0307)
    command(site, "check", channel, ADMIN, "check-4")
    assert "No change on ICE's lists" in reply(site, "check-4")["text"]
    time.sleep(2)
    assert sorted(delivered()) == florida
    assert not set(delivered()) & others
    posted = json.dumps(site.slack.messages[channel])
    assert "Rusk County" not in posted and "Kansas" not in posted

    # `latest FL` and `status` read the same state.
    command(site, "latest FL", channel, ALICE, "latest")
    latest = words(reply(site, "latest"))
    assert "The last 7 events for Florida" in latest and "Key West Police Department" in latest
    command(site, "status", channel, ALICE, "status")
    status = words(reply(site, "status"))
    assert "participatingAgencies.xlsx, 318 rows" in status
    assert "last check" in status and "service: running" in status
