"""The alert commands, run in-process through watch287g.cli.main."""

from __future__ import annotations

import json

from watch287g.core.config import load_config
from watch287g.state.store import Store

from tests.support.alerts_env import NOW, agreement_event, record
from watch287g.testing.smtp import SmtpServer, email_config


def test_subscribe_list_unsubscribe(cli):
    code, out, err = cli("subscribe", "--slack-channel", "C0123ABCD", "--state", "Florida", "--name", "fl-org")
    assert code == 0, err
    assert out.startswith("subscribed s1 (fl-org): Slack channel C0123ABCD, instant, states FL")
    assert "SLACK_BOT_TOKEN is not set" in err

    code, out, _ = cli("subscribe", "--email", "Reporter@News.example", "--state", "fl", "--state", "TX",
                       "--state", "ga", "--model", "TFM", "--type", "signed", "--cadence", "daily", "--json")
    assert code == 0
    doc = json.loads(out)["subscribed"]
    assert doc["id"] == "s2" and doc["destination"] == "email:reporter@news.example"
    assert doc["filter"]["models"] == ["Task Force Model"] and doc["filter"]["types"] == ["agreement.signed"]

    code, out, _ = cli("subscriptions", "--json")
    assert [s["id"] for s in json.loads(out)] == ["s1", "s2"]

    code, out, _ = cli("unsubscribe", "fl-org")
    assert code == 0 and out.startswith("unsubscribed s1")
    code, out, _ = cli("subscribe", "--webhook-env", "FL_HOOK")
    assert "subscribed s3" in out                          # ids are never reused
    code, out, _ = cli("subscriptions")
    assert "s1" not in out and "s2:" in out and "s3:" in out


def test_bad_input_is_one_line_and_changes_nothing(cli):
    cli("subscribe", "--email", "a@b.org")
    before = (cli.data_dir / "state.json").read_bytes()
    for args, message in [
        (("subscribe", "--email", "a@b.org", "--state", "Floridaa"), "unknown state 'Floridaa'"),
        (("subscribe", "--email", "not an address"), "plain e-mail address"),
        (("subscribe", "--slack-channel", "#general"), "channel ID"),
        (("subscribe", "--email", "a@b.org", "--model", "TFX"), "unknown model"),
        (("subscribe", "--email", "a@b.org", "--type", "snapshot.quarantined"), "operator event"),
        (("subscribe", "--email", "a@b.org", "--name", "s9"), "not look like an id"),
        (("unsubscribe", "s42"), "no subscription 's42'"),
    ]:
        code, out, err = cli(*args)
        assert code == 2, args
        assert err.strip().count("\n") == 0 and message in err and "Traceback" not in err
    assert (cli.data_dir / "state.json").read_bytes() == before


def test_config_subscriptions_cannot_be_removed_from_the_cli(cli, tmp_path):
    config = tmp_path / "with-subs.toml"
    config.write_text('[[subscriptions]]\nname = "org"\nslack_channel = "C0123ABCD"\n')
    code, out, _ = cli("subscriptions", config_file=config)
    assert out.startswith("config:org: Slack channel C0123ABCD")
    code, _, err = cli("unsubscribe", "org", config_file=config)
    assert code == 2 and "remove the [[subscriptions]] entry named 'org'" in err


def test_deliver_outbox_and_digest_commands(cli, tmp_path):
    smtp = SmtpServer()                                   # down at first
    config = tmp_path / "mail.toml"
    config.write_text(email_config(smtp.port) + """
[[subscriptions]]
name = "now"
email = "now@news.example"

[[subscriptions]]
name = "daily"
email = "daily@news.example"
cadence = "daily"
""")
    store = Store(cli.data_dir)
    record(store, [agreement_event()], load_config(config), NOW)

    code, out, _ = cli("deliver", config_file=config)
    assert code == 1 and "FAILED" in out and "ConnectionRefusedError" in out
    code, out, _ = cli("outbox", config_file=config)
    assert "email:now@news.example (instant): 1 waiting, 1 retrying" in out
    assert "email:daily@news.example (daily): 1 waiting, 1 for the next digest" in out
    assert "last error: SMTP 127.0.0.1" in out
    code, out, _ = cli("outbox", "--json", config_file=config)
    assert json.loads(out)["totals"] == {"pending": 2}

    smtp.start()
    try:
        code, out, _ = cli("digest", "--daily", "--json", config_file=config)
        report = json.loads(out)
        assert code == 0 and report["released"] == 1 and report["sent"] == 1
        assert [r.rcpt_tos for r in smtp.inbox] == [["daily@news.example"]]
    finally:
        smtp.stop()


def test_pause_keeps_the_subscription_and_resume_gets_only_what_happens_after(cli, tmp_path):
    from watch287g.core.config import Config

    assert cli("subscribe", "--email", "desk@news.example", "--state", "FL", "--name", "desk")[0] == 0
    store = Store(cli.data_dir)
    config = Config({}, None)
    before = record(store, [agreement_event(line=1)], config)
    assert cli("pause", "desk")[1].startswith("paused s1 (desk) [paused]: email desk@news.example")
    during = record(store, [agreement_event(line=2)], config)
    assert cli("resume", "s1")[0] == 0
    after = record(store, [agreement_event(line=3)], config)

    queued = {row["event_id"]: row["status"] for row in store.read().outbox.all()}
    assert queued == {before[0]["id"]: "cancelled", after[0]["id"]: "pending"}
    assert during[0]["id"] not in queued          # nothing was queued while paused

    code, out, _ = cli("subscriptions")
    lines = out.splitlines()
    assert lines[0].startswith("s1 (desk): email desk@news.example")
    assert [line.split()[1:] for line in lines[1:]] == [["created", "by", "cli"], ["paused", "by", "cli"],
                                                        ["resumed", "by", "cli"]]

    assert cli("unsubscribe", "desk")[0] == 0
    assert "s1" not in cli("subscriptions")[1]
    code, out, _ = cli("subscriptions", "--all", "--json")
    [doc] = json.loads(out)
    assert doc["status"] == "removed" and [c["what"] for c in doc["history"]][-1] == "removed"
    # A removed subscription cannot be paused back to life.
    code, _, err = cli("resume", "s1")
    assert code == 2 and "no subscription 's1'" in err
