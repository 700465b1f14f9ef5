"""Exactly-once across a crash: the delivery runs in a child process that is
SIGKILLed right after the transport reports success and before the result is
recorded (the test-only WATCH287G_TEST_CRASH_AFTER_SEND hook); then a normal
run settles what was left in doubt. The crash runs are `e2e` (a delivery in
a child process against local servers); the rest run in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from watch287g.alerts.outbox import CRASH_AFTER_SEND_ENV, DELIVERY_LOCK
from watch287g.state.store import Store

from tests.support.alerts_env import agreement_event, burst, deliver, outbox_docs, record, slack_config, write_config
from watch287g.testing.fake_slack import VALID_TOKEN, FakeSlack
from watch287g.testing.smtp import SmtpServer, email_config

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "C0123ABCD"
CHILD = """
import sys
from watch287g.alerts.outbox import deliver_due
from watch287g.core.config import load_config
from watch287g.settings import Settings
from watch287g.state.store import Store
settings = Settings(load_config(sys.argv[1]))
deliver_due(Store(sys.argv[2]), settings.alerts, settings.subscriptions)
"""


def _crashing_delivery(tmp_path: Path, env: dict | None = None) -> None:
    child_env = {**os.environ, CRASH_AFTER_SEND_ENV: "1", **(env or {})}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "watch287g.toml"), str(tmp_path / "data")],
                          cwd=ROOT, env=child_env, timeout=60, capture_output=True, text=True)
    assert done.returncode == -9, done.stderr         # killed between send and record


@pytest.fixture
def fake(monkeypatch):
    server = FakeSlack()
    monkeypatch.setenv("SLACK_BOT_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("HOOK_URL", server.webhook_url())
    yield server
    server.close()


def _slack_setup(tmp_path, fake, count: int):
    config = write_config(tmp_path, slack_config(fake.api_base_url, slack_extra="server_error_retries = 0") + f"""
[[subscriptions]]
name = "channel"
slack_channel = "{CHANNEL}"
""")
    store = Store(tmp_path / "data")
    events = record(store, burst(count) if count > 1 else [agreement_event()], config)
    return config, store, events


def _delivered_ids(fake) -> list[int]:
    return [i for m in fake.messages[CHANNEL] for i in m["metadata"]["event_payload"]["events"]]


@pytest.mark.e2e
@pytest.mark.parametrize("count", [1, 12])
def test_slack_crash_after_send_is_settled_by_reading_the_channel(tmp_path, fake, count):
    config, store, events = _slack_setup(tmp_path, fake, count)

    _crashing_delivery(tmp_path)
    posted = len(fake.messages[CHANNEL])
    assert {d["status"] for d in outbox_docs(store)} == {"sending"}

    report = deliver(store, config)

    assert report["reconciled"] == count and report["sent"] == 0
    assert len(fake.messages[CHANNEL]) == posted             # nothing posted twice
    assert len(fake.top_level(CHANNEL)) == 1
    assert sorted(_delivered_ids(fake)) == sorted(e["id"] for e in events)
    assert {d["status"] for d in outbox_docs(store)} == {"sent"}
    assert deliver(store, config)["sent"] == 0 and len(fake.messages[CHANNEL]) == posted


@pytest.mark.e2e
def test_slack_thread_cut_short_sends_only_what_is_missing(tmp_path, fake):
    config, store, events = _slack_setup(tmp_path, fake, 25)
    _crashing_delivery(tmp_path)
    # As if the process had died after the second reply: drop the last one.
    lost = fake.messages[CHANNEL].pop()
    fake.top_level(CHANNEL)[0]["reply_count"] -= 1
    lost_ids = lost["metadata"]["event_payload"]["events"]

    report = deliver(store, config)

    assert report["reconciled"] == 25 - len(lost_ids) and report["sent"] == len(lost_ids)
    ids = _delivered_ids(fake)
    assert sorted(ids) == sorted(e["id"] for e in events)        # every event exactly once
    assert len(fake.top_level(CHANNEL)) == 2                     # the rest: one new post


@pytest.mark.e2e
def test_slack_unreadable_while_in_doubt_waits_then_settles(tmp_path, fake):
    config, store, _ = _slack_setup(tmp_path, fake, 1)
    _crashing_delivery(tmp_path)
    fake.fail_next(1, status=500)                                # conversations.history fails once

    report = deliver(store, config)
    [doc] = outbox_docs(store)
    assert doc["status"] == "sending" and "in doubt" in doc["last_error"]
    assert report["pending"] == 1 and len(fake.messages[CHANNEL]) == 1

    assert deliver(store, config)["reconciled"] == 1
    assert len(fake.messages[CHANNEL]) == 1


@pytest.mark.e2e
def test_email_crash_after_send_resends_the_identical_message(tmp_path):
    smtp = SmtpServer().start()
    try:
        config = write_config(tmp_path, email_config(smtp.port) + """
[[subscriptions]]
name = "reporter"
email = "reporter@news.example"
""")
        store = Store(tmp_path / "data")
        record(store, [agreement_event(line=1), agreement_event(line=2)], config)

        _crashing_delivery(tmp_path)
        assert len(smtp.inbox) == 1
        report = deliver(store, config)

        assert report["sent"] == 2
        first, second = smtp.inbox
        # E-mail cannot be read back: the copy is identical, and receivers
        # such as Gmail collapse messages with the same Message-ID.
        assert first.message["Message-ID"] == second.message["Message-ID"]
        assert first.data == second.data
        assert deliver(store, config)["sent"] == 0 and len(smtp.inbox) == 2
    finally:
        smtp.stop()


@pytest.mark.e2e
def test_webhook_crash_after_send_resends_the_same_content(tmp_path, fake):
    config = write_config(tmp_path, slack_config(fake.api_base_url) + """
[[subscriptions]]
name = "hook"
webhook_env = "HOOK_URL"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)

    _crashing_delivery(tmp_path)
    deliver(store, config)

    [posts] = fake.webhook_posts.values()
    assert len(posts) == 2 and posts[0] == posts[1]              # the documented limit of webhooks
    assert {d["status"] for d in outbox_docs(store)} == {"sent"}


def test_a_second_delivery_run_stands_aside_while_one_is_sending(tmp_path, fake):
    config, store, _ = _slack_setup(tmp_path, fake, 1)
    with FileLock(str(store.data_dir / DELIVERY_LOCK)):
        report = deliver(store, config)
    assert report["busy"] is True and report["sent"] == 0
    assert CHANNEL not in fake.messages
    assert deliver(store, config)["sent"] == 1
