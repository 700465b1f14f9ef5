"""E-mail delivery and digests through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from watch287g.core import events as ev
from watch287g.state.store import Store

from tests.support.alerts_env import (
    deliver,
    send_digest,
    INJECTION_AGENCY,
    NOW,
    agreement_event,
    outbox_docs,
    record,
    write_config,
)
from watch287g.testing.smtp import SmtpServer, email_config

REPORTER = "reporter@news.example"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def _config(tmp_path, port: int, subscriptions: str, extra: str = ""):
    return write_config(tmp_path, email_config(port, extra) + subscriptions)


def test_instant_email_is_multipart_with_evidence_and_list_unsubscribe(tmp_path, smtp):
    config = _config(tmp_path, smtp.port, f"""
[[subscriptions]]
name = "polk-watch"
email = "{REPORTER}"
counties = ["Polk"]
""", extra='list_unsubscribe = "https://watch287g.example/unsubscribe"')
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)

    assert deliver(store, config, NOW)["sent"] == 1

    [received] = smtp.inbox
    assert received.rcpt_tos == [REPORTER]
    message = received.message
    assert message["Subject"] == "287(g): Polk County Sheriff's Office (FL) signed a Task Force Model agreement"
    assert message["List-Unsubscribe"] == "<https://watch287g.example/unsubscribe>"
    assert message["Message-ID"].endswith("@watch287g.example>")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "https://www.ice.gov/doclib/about/offices/ero/pdf/287gMOA/r_287gFL412.pdf" in body
        assert "participatingAgencies-20250301180751.xlsx" in body and "row 412" in body
        assert "watch287g unsubscribe" not in body              # a config subscription...
    # ...says whom the reader asks to stop it (the reader cannot edit the operator's config).
    assert ("You get this e-mail for subscription 'polk-watch' (instant: counties Polk). "
            "To stop it, write to alerts@watch287g.example and ask to cancel it.") in text


def test_default_list_unsubscribe_is_a_mailto_and_the_footer_says_whom_to_ask(tmp_path, smtp, cli):
    config_path = tmp_path / "watch287g.toml"
    config_path.write_text(email_config(smtp.port))
    code, out, err = cli("subscribe", "--email", REPORTER, "--state", "fl", config_file=config_path)
    assert code == 0, err
    from watch287g.core.config import load_config
    config = load_config(config_path)
    store = Store(cli.data_dir)
    record(store, [agreement_event()], config)
    deliver(store, config, NOW)

    message = smtp.inbox[0].message
    assert message["List-Unsubscribe"] == "<mailto:alerts@watch287g.example?subject=unsubscribe>"
    text = message.get_body(("plain",)).get_content()
    assert "watch287g unsubscribe" not in text                    # a command the reader cannot run
    assert ("You get this e-mail for subscription s1 (instant: Florida). To stop it, write to "
            "alerts@watch287g.example and ask to cancel it.") in text


def test_footer_without_a_real_sender_address_says_to_ask_the_operator(tmp_path, smtp):
    config = write_config(tmp_path, email_config(smtp.port).replace(
        'from_address = "alerts@watch287g.example"', 'from_address = "watch287g@localhost"') + f"""
[[subscriptions]]
name = "all"
email = "{REPORTER}"
cadence = "weekly"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event()], config)
    send_digest(store, config, "weekly", NOW)
    text = smtp.inbox[0].message.get_body(("plain",)).get_content()
    assert ("You get this e-mail for subscription 'all' (weekly: every change). To stop it, ask whoever "
            "set up these alerts for you to cancel it.") in text


def test_agency_name_cannot_inject_a_header(tmp_path, smtp):
    config = _config(tmp_path, smtp.port, f"""
[[subscriptions]]
name = "all"
email = "{REPORTER}"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event(agency=INJECTION_AGENCY, moa_url="javascript:alert(1)")], config)

    assert deliver(store, config, NOW)["sent"] == 1

    [received] = smtp.inbox
    assert received.rcpt_tos == [REPORTER]
    message = received.message
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith("287(g): Evil County Bcc: victim@example.com")
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\nBcc:" not in head
    assert "javascript:" not in message.get_body(("html",)).get_content()    # refused links are dropped


def test_html_part_escapes_scraped_text(tmp_path, smtp):
    config = _config(tmp_path, smtp.port, f"""
[[subscriptions]]
name = "all"
email = "{REPORTER}"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event(agency='<script>alert("x")</script> & <b>Sheriff</b>')], config)
    deliver(store, config, NOW)
    html = smtp.inbox[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>Sheriff</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Sheriff&lt;/b&gt;" in html


def test_daily_digest_merges_subscriptions_per_address_grouped_by_state(tmp_path, smtp):
    # The reporter: new Task Force Model agreements in three states, daily;
    # plus a second subscription of hers that overlaps (Florida, any model).
    config = _config(tmp_path, smtp.port, f"""
[[subscriptions]]
name = "tfm-three-states"
email = "{REPORTER}"
states = ["FL", "Texas", "ga"]
models = ["TFM"]
types = ["signed"]
cadence = "daily"

[[subscriptions]]
name = "florida-daily"
email = "{REPORTER.upper()}"
states = ["FL"]
cadence = "daily"

[[subscriptions]]
name = "researcher"
email = "researcher@uni.example"
cadence = "weekly"
""")
    store = Store(tmp_path / "data")
    record(store, [
        agreement_event(agency="POLK COUNTY SHERIFF'S OFFICE", state="FL", line=1),      # matches both
        agreement_event(agency="HARRIS COUNTY SHERIFF'S OFFICE", state="TX", line=2),
        agreement_event(agency="COBB COUNTY SHERIFF'S OFFICE", state="GA", line=3),
        agreement_event(agency="DADE COUNTY JAIL", state="FL", model="Jail Enforcement Model", line=4),
        agreement_event(agency="KERN COUNTY SHERIFF'S OFFICE", state="CA", line=5),        # nobody daily
    ], config)

    assert deliver(store, config, NOW)["sent"] == 0             # digests wait for their time
    report = send_digest(store, config, "daily", NOW + dt.timedelta(hours=6))

    assert report["released"] == 5 and report["failed"] == 0
    [received] = smtp.inbox                                         # one e-mail for the address
    assert received.rcpt_tos == [REPORTER]
    message = received.message
    assert message["Subject"].startswith("287(g) daily digest: 4 changes in 3 states")
    text = message.get_body(("plain",)).get_content()
    assert text.count("Polk County Sheriff's Office") == 1           # in two subscriptions, shown once
    assert text.index("FLORIDA (2)") < text.index("GEORGIA (1)") < text.index("TEXAS (1)")
    assert "Kern County" not in text
    html = message.get_body(("html",)).get_content()
    assert html.count("Polk County Sheriff&#x27;s Office") == 1
    assert message["List-Unsubscribe"]

    # The weekly researcher is untouched until the weekly digest.
    assert {d["status"] for d in outbox_docs(store) if d["cadence"] == "weekly"} == {"pending"}
    send_digest(store, config, "weekly", NOW + dt.timedelta(days=2))
    assert len(smtp.inbox) == 2 and smtp.inbox[1].rcpt_tos == ["researcher@uni.example"]
    assert "5 changes" in smtp.inbox[1].message["Subject"]
    assert send_digest(store, config, "weekly", NOW + dt.timedelta(days=9))["sent"] == 0


def test_corrections_only_for_those_who_ask(tmp_path, smtp):
    config = _config(tmp_path, smtp.port, f"""
[[subscriptions]]
name = "default-types"
email = "{REPORTER}"

[[subscriptions]]
name = "wants-corrections"
email = "pedant@example.org"
types = ["corrected"]
""")
    store = Store(tmp_path / "data")
    corrected = agreement_event(ev.CORRECTED, changes={"county": {"old": "Polk", "new": "Polk County"}})
    record(store, [corrected], config)
    deliver(store, config, NOW)
    assert [r.rcpt_tos for r in smtp.inbox] == [["pedant@example.org"]]
    text = smtp.inbox[0].message.get_body(("plain",)).get_content()
    assert "ICE changed: County: Polk → Polk County" in text
    assert "county" not in text                                    # no internal field name


def test_smtp_outage_loses_nothing(tmp_path):
    server = SmtpServer()            # not started: its port refuses connections
    config = _config(tmp_path, server.port, f"""
[[subscriptions]]
name = "all"
email = "{REPORTER}"
""")
    store = Store(tmp_path / "data")
    record(store, [agreement_event(line=1), agreement_event(line=2, state="TX")], config)

    report = deliver(store, config, NOW)
    assert report["failed"] == 2 and report["pending"] == 2
    docs = outbox_docs(store)
    assert {d["status"] for d in docs} == {"pending"}
    assert all("ConnectionRefusedError" in d["last_error"] for d in docs)
    report = deliver(store, config, NOW + dt.timedelta(minutes=5))
    assert report["failed"] == 2
    assert {d["attempts"] for d in outbox_docs(store)} == {2}
    assert {d["next_attempt_at"] for d in outbox_docs(store)} == {"2025-03-01T18:17:00Z"}   # 2 min back-off

    server.start()
    try:
        report = deliver(store, config, NOW + dt.timedelta(minutes=8))
        assert report["sent"] == 2 and report["pending"] == 0
        [received] = server.inbox                                   # both events, one e-mail
        assert "2 changes" in received.message["Subject"]
    finally:
        server.stop()


@pytest.mark.parametrize("refusal", ["rcpt", "data"])
def test_an_address_the_server_refuses_for_good_is_paused_and_shown_to_the_operator(tmp_path, smtp, cli, refusal):
    reply = "550 5.1.1 <gone@news.example>: no such user" if refusal == "rcpt" else "554 5.7.1 message refused"
    (smtp.refuse_rcpt if refusal == "rcpt" else smtp.refuse_data)["gone@news.example"] = reply
    config_path = tmp_path / "watch287g.toml"
    config_path.write_text(email_config(smtp.port) + """
[[subscriptions]]
name = "desk"
email = "gone@news.example"
""")
    assert cli("subscribe", "--email", "gone@news.example", "--state", "FL", config_file=config_path)[0] == 0
    assert cli("subscribe", "--email", REPORTER, config_file=config_path)[0] == 0
    from watch287g.core.config import load_config
    config = load_config(config_path)
    store = Store(cli.data_dir)
    record(store, [agreement_event()], config)

    report = deliver(store, config, NOW)
    assert report["sent"] == 1 and report["failed"] == 2        # the reporter's went; the refused address's did not
    stored = store.read().subscriptions.get("s1")
    assert stored["status"] == "paused"
    assert stored["history"][-1]["by"] == "smtp" and reply.split(":")[0] in stored["history"][-1]["what"]
    by_subscription = {d["subscription_id"]: d["status"] for d in outbox_docs(store)}
    # The stored subscription is paused and its alert cancelled; the config
    # file's own subscription cannot be paused from here: it keeps retrying.
    assert by_subscription == {"s1": "cancelled", "s2": "sent", "config:desk": "pending"}
    record(store, [agreement_event(agency="LEE COUNTY SHERIFF'S OFFICE", line=5)], config)
    assert "s1" not in {d["subscription_id"] for d in outbox_docs(store) if d["event_id"] == 2}

    code, out, _ = cli("subscriptions", config_file=config_path)
    assert code == 0 and "s1 [paused]: email gone@news.example" in out and "by smtp" in out
    code, out, _ = cli("status", config_file=config_path)
    assert code == 0 and "PAUSED s1 (email:gone@news.example)" in out and "refuses the address" in out
    code, out, _ = cli("status", "--json", config_file=config_path)
    [refused] = json.loads(out)["refused_addresses"]
    assert refused["subscription"] == "s1" and reply.split(":")[0] in refused["reason"]


def test_a_temporary_refusal_is_retried_not_paused(tmp_path, smtp, cli):
    smtp.refuse_rcpt[REPORTER] = "450 4.2.1 mailbox busy, try later"
    config_path = tmp_path / "watch287g.toml"
    config_path.write_text(email_config(smtp.port))
    assert cli("subscribe", "--email", REPORTER, config_file=config_path)[0] == 0
    from watch287g.core.config import load_config
    config = load_config(config_path)
    store = Store(cli.data_dir)
    record(store, [agreement_event()], config)

    assert deliver(store, config, NOW)["failed"] == 1
    assert store.read().subscriptions.get("s1")["status"] == "active"
    [doc] = outbox_docs(store)
    assert doc["status"] == "pending" and "450 4.2.1 mailbox busy" in doc["last_error"]
    del smtp.refuse_rcpt[REPORTER]
    assert deliver(store, config, NOW + dt.timedelta(minutes=2))["sent"] == 1
