"""Slack delivery through the real slack-sdk clients against a fake Slack on loopback."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from watch287g.core import events as ev
from watch287g.core.redact import redact
from watch287g.state import journal
from watch287g.state.store import Store

from tests.support.alerts_env import (
    deliver,
    queue_for,
    send_digest,
    EVIL_AGENCY,
    NOW,
    agreement_event,
    burst,
    outbox_docs,
    record,
    slack_config,
    write_config,
)
from watch287g.testing.fake_slack import DROP, LATE, SERVER_ERROR, VALID_TOKEN, FakeSlack

CHANNEL = "C0123ABCD"
OPERATOR_CHANNEL = "C0OPERATOR"


@pytest.fixture
def fake():
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture
def env(monkeypatch, fake):
    monkeypatch.setenv("SLACK_BOT_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("FL_WEBHOOK", fake.webhook_url())


def _config(tmp_path, fake, subscriptions: str, extra: str = "", slack_extra: str = ""):
    return write_config(tmp_path, slack_config(fake.api_base_url, extra, slack_extra) + subscriptions)


FL_CHANNEL = f"""
[[subscriptions]]
name = "fl-organizers"
slack_channel = "{CHANNEL}"
states = ["Florida"]
"""


ALL_CHANNEL = f"""
[[subscriptions]]
name = "everything"
slack_channel = "{CHANNEL}"
"""


def _all_text(message: dict) -> str:
    return json.dumps({"text": message["text"], "blocks": message["blocks"],
                       "attachments": message.get("attachments")})


def test_one_event_is_one_card_with_headline_link_and_evidence(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)

    report = deliver(store, config, NOW)

    assert report["sent"] == 1 and report["failed"] == 0 and report["messages"] == 1
    [message] = fake.top_level(CHANNEL)
    text = _all_text(message)
    assert message["text"] == "Polk County Sheriff's Office (FL) signed a Task Force Model agreement"
    assert "<https://www.ice.gov/doclib/about/offices/ero/pdf/287gMOA/r_287gFL412.pdf|MOA>" in text
    assert "participatingAgencies-20250301180751.xlsx" in text
    assert "seen by watch287g 2025-03-01 18:07 UTC" in text
    assert "sha256 9e262e64fd7f" in text and "row 412" in text
    assert message["metadata"]["event_type"] == "watch287g_delivery"


def test_texas_event_does_not_reach_the_florida_channel(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    record(store, [agreement_event(state="TX", agency="HARRIS COUNTY SHERIFF'S OFFICE")], config)
    assert deliver(store, config, NOW)["sent"] == 0
    assert fake.top_level(CHANNEL) == []


def test_scraped_text_cannot_ping_mention_or_forge_a_link(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    # One alone (a full card) and one in a burst (a threaded entry).
    record(store, [agreement_event(agency=EVIL_AGENCY)], config)
    deliver(store, config, NOW)
    record(store, [agreement_event(agency=EVIL_AGENCY, line=900)] + burst(5, ("FL",)), config)
    deliver(store, config, NOW)

    posted = fake.messages[CHANNEL]
    assert len(posted) >= 3
    for message in posted:
        text = _all_text(message)
        for forbidden in ("<!channel>", "<@U123>", "<http://evil.example", "<!here>", "<!everyone>"):
            assert forbidden not in text
    card = _all_text(posted[0])
    assert "&lt;!channel&gt; Evil &lt;@U123&gt; &lt;http://evil.example|click&gt; &amp; co" in card


def test_a_burst_of_64_is_one_post_with_the_details_threaded(tmp_path, fake, env):
    config = _config(tmp_path, fake, ALL_CHANNEL)
    store = Store(tmp_path / "data")
    events = record(store, burst(64), config)

    report = deliver(store, config, NOW)

    [summary] = fake.top_level(CHANNEL)
    assert "64 changes" in _all_text(summary) and "64* signed" in _all_text(summary)
    replies = fake.replies(CHANNEL, summary["ts"])
    assert 1 < len(replies) <= 10                       # several events per reply
    delivered = [i for reply in replies for i in reply["metadata"]["event_payload"]["events"]]
    assert sorted(delivered) == sorted(e["id"] for e in events)
    assert all(len(r["blocks"]) <= 50 for r in replies)
    assert report == {**report, "sent": 64, "failed": 0, "messages": 1 + len(replies)}


def test_webhook_burst_rides_in_the_same_message(tmp_path, fake, env):
    config = _config(tmp_path, fake, """
[[subscriptions]]
name = "hook"
webhook_env = "FL_WEBHOOK"
""")
    store = Store(tmp_path / "data")
    record(store, burst(64), config)

    report = deliver(store, config, NOW)

    [posts] = fake.webhook_posts.values()
    assert report["sent"] == 64 and len(posts) == 1
    [post] = posts
    assert "64 changes" in post["text"] and post["attachments"]
    assert len(post["blocks"]) + sum(len(a["blocks"]) for a in post["attachments"]) <= 50
    agencies = json.dumps(posts)
    assert all(f"Agency Number {i} Sheriff's Office" in agencies for i in range(64))


def test_rate_limit_429_is_waited_out_and_posts_once(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    fake.fail_next(2, status=429, retry_after="0")

    report = deliver(store, config, NOW)

    assert report["sent"] == 1 and report["failed"] == 0
    assert len(fake.calls("chat.postMessage")) == 3      # two 429s, then the post
    assert len(fake.top_level(CHANNEL)) == 1


def test_outage_keeps_records_pending_with_backoff_then_delivers(tmp_path, fake, env):
    # A 500 without a post: the read-back shows nothing posted, so it is an
    # ordinary failure, retried by the outbox (never by slack-sdk).
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    fake.fail_next(1, status=500)

    report = deliver(store, config, NOW)

    assert report["sent"] == 0 and report["failed"] == 1 and report["pending"] == 1
    [doc] = outbox_docs(store)
    assert doc["status"] == "pending" and doc["attempts"] == 1
    assert "500" in doc["last_error"]
    assert doc["next_attempt_at"] == "2025-03-01T18:11:00Z"     # 60 s back-off
    assert deliver(store, config, NOW)["sent"] == 0        # not yet due: nothing tried
    assert len(fake.calls("chat.postMessage")) == 1

    report = deliver(store, config, NOW + dt.timedelta(minutes=2))
    assert report["sent"] == 1 and len(fake.top_level(CHANNEL)) == 1
    assert outbox_docs(store)[0]["status"] == "sent"


@pytest.mark.parametrize("how", [LATE, DROP, SERVER_ERROR])
def test_a_post_whose_answer_is_lost_is_read_back_not_sent_again(tmp_path, fake, env, how):
    # Slack posts the message, then the answer is lost: too late, a dropped
    # connection, or a 500 after the request was carried out.
    config = _config(tmp_path, fake, FL_CHANNEL, slack_extra="timeout_seconds = 1")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    fake.post_then_fail(1, how)

    report = deliver(store, config, NOW)

    assert report == {**report, "sent": 1, "failed": 0, "messages": 1, "pending": 0}
    assert len(fake.calls("chat.postMessage")) == 1          # no retry of a post by slack-sdk
    assert len(fake.calls("conversations.history")) == 1     # the channel was read back instead
    [doc] = outbox_docs(store)
    assert doc["status"] == "sent" and doc["attempts"] == 1
    deliver(store, config, NOW + dt.timedelta(hours=7))
    assert len(fake.messages[CHANNEL]) == 1                  # the channel has it once


@pytest.mark.parametrize("how", [DROP, SERVER_ERROR])
def test_a_burst_whose_every_answer_is_lost_is_posted_once_and_threaded(tmp_path, fake, env, how):
    config = _config(tmp_path, fake, ALL_CHANNEL)
    store = Store(tmp_path / "data")
    events = record(store, burst(25), config)
    fake.post_then_fail(10, how)          # the summary's answer and each reply's

    report = deliver(store, config, NOW)

    [summary] = fake.top_level(CHANNEL)
    replies = fake.replies(CHANNEL, summary["ts"])           # threaded under the read-back summary
    assert len(replies) == 3 and len(fake.messages[CHANNEL]) == 4
    delivered = [i for reply in replies for i in reply["metadata"]["event_payload"]["events"]]
    assert sorted(delivered) == sorted(e["id"] for e in events)
    assert report == {**report, "sent": 25, "failed": 0, "messages": 4}
    assert len(fake.calls("chat.postMessage")) == 4


def test_a_lost_answer_stays_in_doubt_while_the_channel_cannot_be_read(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL, slack_extra="server_error_retries = 0")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    fake.post_then_fail(1, SERVER_ERROR)
    fake.fail_next(1, status=500, method="conversations.history")

    report = deliver(store, config, NOW)

    assert report["sent"] == 0 and report["failed"] == 1 and report["messages"] == 0
    [doc] = outbox_docs(store)
    assert doc["status"] == "sending"                        # in doubt: neither sent nor due again
    assert "in doubt" in doc["last_error"] and "500" in doc["last_error"]
    report = deliver(store, config, NOW + dt.timedelta(minutes=1))    # Slack readable again
    assert report["reconciled"] == 1 and report["sent"] == 0
    assert outbox_docs(store)[0]["status"] == "sent"
    assert len(fake.messages[CHANNEL]) == 1 and len(fake.calls("chat.postMessage")) == 1


def test_a_post_refused_before_it_is_carried_out_is_retried_later(tmp_path, fake, env):
    # A dropped connection or 500 with nothing posted: the read-back shows
    # it missing, and the outbox sends it again after its back-off.
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    fake.fail_next(1, status=503, method="chat.postMessage")

    assert deliver(store, config, NOW)["failed"] == 1
    assert outbox_docs(store)[0]["status"] == "pending"
    assert deliver(store, config, NOW + dt.timedelta(minutes=2))["sent"] == 1
    assert len(fake.messages[CHANNEL]) == 1 and len(fake.calls("chat.postMessage")) == 2


def test_running_deliver_twice_sends_nothing_twice(tmp_path, fake, env):
    config = _config(tmp_path, fake, FL_CHANNEL)
    store = Store(tmp_path / "data")
    events = [agreement_event(line=n) for n in (1, 2)]
    record(store, events, config)
    with store.write() as db:      # the same events queued again: idempotent
        assert journal.queue(db, events, queue_for(db, config, NOW)) == 0

    deliver(store, config, NOW)
    deliver(store, config, NOW + dt.timedelta(hours=1))

    assert len(fake.messages[CHANNEL]) == 1
    assert len(outbox_docs(store)) == 2


def test_failing_destination_alerts_the_operator_once(tmp_path, fake, env, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")        # every post: invalid_auth
    config = _config(tmp_path, fake, FL_CHANNEL, extra="""
[operator]
webhook_env = "FL_WEBHOOK"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    now = NOW
    for _ in range(5):
        deliver(store, config, now)
        now += dt.timedelta(hours=7)     # past any back-off

    events = list(store.read().events.all())
    failing = [e for e in events if e["type"] == ev.DELIVERY_FAILING]
    assert len(failing) == 1                                     # once per outage
    assert "invalid_auth" in failing[0]["message"]
    [posts] = fake.webhook_posts.values()
    assert len(posts) == 1
    assert posts[0]["text"] == "Alerts to Slack channel C0123ABCD keep failing (3 attempts)"
    subscriber_doc = next(d for d in outbox_docs(store) if d["subscription_id"] == "config:fl-organizers")
    assert subscriber_doc["status"] == "pending" and subscriber_doc["attempts"] == 5


def test_operator_events_never_reach_subscribers(tmp_path, fake, env):
    config = _config(tmp_path, fake, f"""
[[subscriptions]]
name = "everything"
slack_channel = "{CHANNEL}"
types = ["signed", "renewed", "terminated", "reinstated", "corrected", "pending.added",
         "pending.withdrawn", "page.changed"]

[operator]
slack_channel = "{OPERATOR_CHANNEL}"
""")
    store = Store(tmp_path / "data")
    quarantined = ev.operator_event(ev.SNAPSHOT_QUARANTINED, "2025-03-01T18:07:51Z",
                                    "participating list shrank from 1274 to 12 rows")
    record(store, [quarantined], config)
    deliver(store, config, NOW)
    assert CHANNEL not in fake.messages
    [message] = fake.top_level(OPERATOR_CHANNEL)
    assert "shrank from 1274 to 12 rows" in message["text"]


def test_daily_digest_to_a_channel_is_one_summary_with_a_thread(tmp_path, fake, env):

    config = _config(tmp_path, fake, f"""
[[subscriptions]]
name = "daily-channel"
slack_channel = "{CHANNEL}"
cadence = "daily"
""")
    store = Store(tmp_path / "data")
    record(store, burst(3, ("FL", "GA", "TX")), config)
    assert deliver(store, config, NOW)["sent"] == 0

    report = send_digest(store, config, "daily", NOW + dt.timedelta(hours=12))

    assert report["sent"] == 3
    [summary] = fake.top_level(CHANNEL)
    assert summary["blocks"][0]["text"]["text"] == "287(g) daily digest: 3 changes"
    [reply] = fake.replies(CHANNEL, summary["ts"])
    headings = [b["text"]["text"] for b in reply["blocks"] if b["text"]["text"].startswith("*") and "\n" not in b["text"]["text"]]
    assert headings == ["*Florida*", "*Georgia*", "*Texas*"]


@pytest.mark.e2e
def test_debug_log_never_shows_a_webhook_url(tmp_path, fake, monkeypatch):
    # An incoming webhook's URL is its secret; slack-sdk logs every request's URL at DEBUG (-vv).
    secret = "T0SECRET/B0SECRET/k3yMaterialThatMustNotLeak"
    monkeypatch.setenv("FL_WEBHOOK", fake.webhook_url(secret))
    config_text = slack_config(fake.api_base_url) + """
[[subscriptions]]
name = "hook"
webhook_env = "FL_WEBHOOK"
"""
    config = write_config(tmp_path, config_text)
    record(Store(tmp_path / "data"), [agreement_event()], config)

    run = subprocess.run([sys.executable, "-m", "watch287g.cli", "-vv", "--config", str(tmp_path / "watch287g.toml"),
                          "--data-dir", str(tmp_path / "data"), "deliver"], capture_output=True, text=True,
                         timeout=120)

    assert run.returncode == 0, run.stderr
    assert len(fake.webhook_posts[f"/hooks/{secret}"]) == 1          # it was sent...
    assert "DEBUG slack_sdk" in run.stderr and "Sending a request" in run.stderr   # ...and logged at debug...
    assert "/hooks/[redacted]" in run.stderr
    assert "k3yMaterial" not in run.stderr and "B0SECRET" not in run.stderr       # ...without its secret


@pytest.mark.parametrize("logged, shown", [
    ("Sending a request - url: https://hooks.slack.com/services/T0001/B0001/XXXXXXXX, body: {}",
     "Sending a request - url: https://hooks.slack.com/services/[redacted], body: {}"),
    ("url='https://hooks.slack-gov.com/triggers/T1/2/abc'", "url='https://hooks.slack-gov.com/triggers/[redacted]'"),
    ("token xoxb-1234-5678-abcdEFGH used", "token xoxb-[redacted] used"),
    ("https://slack.com/api/chat.postMessage", "https://slack.com/api/chat.postMessage"),   # not a secret
])
def test_redaction_rule(logged, shown):
    assert redact(logged) == shown
