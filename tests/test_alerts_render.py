"""What alerts say: names, headlines, links, Block Kit limits, e-mail headers."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from watch287g.alerts.describe import describe, display_name, headline, safe_url
from watch287g.alerts.render_email import footer_lines, header_text, render_email
from watch287g.alerts.render_slack import (
    MAX_BLOCKS,
    SECTION_TEXT,
    escape,
    fit,
    render_batch,
)
from watch287g.alerts.settings import EmailSettings, SlackSettings
from watch287g.core import events as ev

from tests.support import slack_mrkdwn
from tests.support.alerts_env import SOURCE, INJECTION_AGENCY, agreement_event, burst


@pytest.mark.parametrize("raw, shown", [
    ("POLK COUNTY SHERIFF'S OFFICE", "Polk County Sheriff's Office"),
    ("MIAMI-DADE POLICE DEPARTMENT", "Miami-Dade Police Department"),
    ("MCLENNAN COUNTY SO", "McLennan County SO"),
    ("O'BRIEN COUNTY SHERIFF'S OFFICE", "O'Brien County Sheriff's Office"),
    ("FLORIDA DEPARTMENT OF LAW ENFORCEMENT (FDLE)", "Florida Department of Law Enforcement (FDLE)"),
    ("TEXAS DPS", "Texas DPS"),
    ("DeKalb County Sheriff's Office", "DeKalb County Sheriff's Office"),   # mixed case: kept
])
def test_all_caps_names_are_recased_sensibly(raw, shown):
    assert display_name(raw) == shown


def test_headlines_per_event_type():
    assert headline(agreement_event()) == "Polk County Sheriff's Office (FL) signed a Task Force Model agreement"
    assert headline(agreement_event(ev.RENEWED)).endswith("renewed its Task Force Model agreement")
    assert "terminated" in headline(agreement_event(ev.TERMINATED))
    assert "pending list" in headline(agreement_event(ev.PENDING_ADDED))


def test_renewal_shows_the_previous_date_and_termination_cites_the_last_listing():
    renewed = describe({**agreement_event(ev.RENEWED, previous_signed="2020-05-01"), "id": 1})
    assert ("Signed", "2025-02-26 (ICE's list; before: 2020-05-01)") in renewed.fields
    gone = describe({**agreement_event(ev.TERMINATED, last_listed={
        "file_name": "participatingAgencies-20250226183301.xlsx", "line": 88,
        "observed_at": "2025-02-26T18:33:01Z"}), "id": 2})
    assert gone.evidence.startswith("absent from ICE file participatingAgencies-20250301180751.xlsx")
    assert "last listed in participatingAgencies-20250226183301.xlsx row 88" in gone.evidence


@pytest.mark.parametrize("url, ok", [
    ("https://www.ice.gov/doclib/287gMOA/r_287gPolk.pdf", True),
    ("javascript:alert(1)", False),
    ("http://evil.example|click", False),
    ("https://x.example/a>b", False),
    ("mailto:x@y.org", False),
])
def test_only_plain_http_links_are_kept(url, ok):
    assert (safe_url(url) is not None) is ok


def test_fit_never_cuts_inside_an_entity_or_a_link():
    text = escape("a" * 10 + "&") + " <https://x.example|MOA>"
    assert fit(text, 13) == "aaaaaaaaaa…"
    assert fit(text, 25) == escape("a" * 10 + "&") + " …"


def test_337_signings_respect_block_kit_limits():
    events = [{**e, "id": i} for i, e in enumerate(burst(337, ("FL",)), start=1)]
    for can_thread in (True, False):
        messages = render_batch(events, "instant", SlackSettings(), can_thread=can_thread)
        delivered = [i for m in messages for i in m.event_ids]
        assert sorted(delivered) == list(range(1, 338))
        assert len([m for m in messages if not m.in_thread]) <= (1 if can_thread else 12)
        for message in messages:
            blocks = message.blocks + [b for a in message.attachments for b in a["blocks"]]
            assert len(blocks) <= MAX_BLOCKS
            for block in blocks:
                if block["type"] == "section" and "text" in block:
                    assert len(block["text"]["text"]) <= SECTION_TEXT


def test_huge_agency_name_fits_a_section():
    event = {**agreement_event(agency="&" * 5000), "id": 1}
    [message] = render_batch([event], "instant", SlackSettings(), can_thread=True)
    assert all(len(json.dumps(b)) < 4000 for b in message.blocks)


def test_header_text_strips_line_breaks_and_controls():
    assert header_text("a\r\nBcc: x@y.org\x00\u2028b") == "a Bcc: x@y.org b"
    assert len(header_text("x" * 500)) == 150


def test_email_subject_from_a_hostile_name_is_one_line():
    event = {**agreement_event(agency=INJECTION_AGENCY), "id": 1}
    message = render_email([event], [], "instant", "r@news.example", "tok",
                           dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc), EmailSettings())
    raw = message.as_bytes()
    assert b"\r\nBcc:" not in raw.split(b"\r\n\r\n", 1)[0]
    assert message["Subject"] == "287(g): Evil County Bcc: victim@example.com (FL) signed a Task Force Model agreement"


def test_page_change_cites_the_page():
    event = {"id": 7, "type": ev.PAGE_CHANGED, "observed_at": "2025-06-02T13:00:00Z",
             "url": "https://www.fdle.state.fl.us/SBIE", "title": "State Board of Immigration Enforcement",
             "summary": "1 document added: 287g-grants.pdf",
             "source": {"source": "fl-sbie", "url": "https://www.fdle.state.fl.us/SBIE",
                        "final_url": "https://www.fdle.state.fl.us/SBIE", "title": "SBIE"}}
    view = describe(event)
    assert view.headline == "A watched 287(g) page changed: State Board of Immigration Enforcement"
    assert ("What changed", "1 document added: 287g-grants.pdf") in view.fields
    assert view.links == [("Page", "https://www.fdle.state.fl.us/SBIE")]
    assert view.evidence == "page seen by watch287g 2025-06-02 13:00 UTC"     # its address is the link


# --- scraped text never renders as mrkdwn (issue 9, item 5) -------------------

MRKDWN_AGENCY = "*Bold* _lean_ ~gone~ `code` > http://evil.example www.evil.example <!channel> <@U123> #general @here"
MRKDWN_FILE = "list_2025_*final*.xlsx"


def test_the_renderer_sees_what_raw_mrkdwn_would_do():
    # The checks below can fail: unescaped, this text is formatting, links and mentions.
    shown = slack_mrkdwn.render({"type": "mrkdwn", "text": MRKDWN_AGENCY})
    assert {("bold", "Bold"), ("italic", "lean"), ("strike", "gone"), ("code", "code")} <= set(shown.styled)
    assert ("http://evil.example", "http://evil.example") in shown.links
    assert {"@channel", "@U123", "#general", "@here"} <= set(shown.mentions)
    assert slack_mrkdwn.render({"type": "mrkdwn", "text": "&gt; quoted"}).styled == [("quote", "quoted")]


@pytest.mark.parametrize("layout", ["card", "thread", "webhook"])
def test_scraped_mrkdwn_shows_as_written(layout):
    event = {**agreement_event(agency=MRKDWN_AGENCY, county="_Polk_ County"),
             "source": {**SOURCE, "file_name": MRKDWN_FILE}}
    events = [{**e, "id": i} for i, e in enumerate([event, *([] if layout == "card" else burst(5))], start=1)]
    messages = render_batch(events, "instant", SlackSettings(), can_thread=layout != "webhook")
    moa_links = {e["moa_url"] for e in events}

    shown = [slack_mrkdwn.render(obj) for m in messages
             for obj in slack_mrkdwn.text_objects({"blocks": m.blocks, "attachments": m.attachments})]

    assert all(s.mentions == [] for s in shown)                                  # nobody pinged
    assert all(url in moa_links and label == "MOA" for s in shown for url, label in s.links)   # only our links
    styles = {style for s in shown for style in s.styled}
    assert not styles & {("bold", "Bold"), ("italic", "lean"), ("strike", "gone"), ("code", "code")}
    assert not {style for style, _text in styles} & {"strike", "code", "quote"}   # we use neither
    text = "\n".join(s.text for s in shown)
    # What a reader sees: the name as ICE wrote it, its marks as look-alikes
    # (the normaliser already straightened the backticks).
    assert ("∗Bold∗ ˍleanˍ ∼gone∼ 'code' > http://evil.example www.evil.example <!channel> <@U123> "
            "#general @here") in text
    assert "ˍPolkˍ County" in text and "list_2025ˍ∗final∗.xlsx" in text
    assert all(o.get("verbatim") for m in messages
               for o in slack_mrkdwn.text_objects({"blocks": m.blocks, "attachments": m.attachments})
               if o["type"] == "mrkdwn")


def test_a_leading_quote_mark_is_not_a_block_quote():
    [message] = render_batch([{**agreement_event(county="> Polk"), "id": 1}], "instant", SlackSettings(),
                             can_thread=True)
    shown = [slack_mrkdwn.render(o) for o in slack_mrkdwn.text_objects({"blocks": message.blocks})]
    assert not any(style == "quote" for s in shown for style, _text in s.styled)
    assert any(s.text == "County\n› Polk" for s in shown)


# --- dates say whose they are (issue 9, item 2) --------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _dates_are_attributed(view) -> None:
    for label, value in view.fields:
        for date in _DATE.findall(value):
            assert "ICE's list" in value or "watch287g" in value, (label, value, date)
    for part in view.evidence.split(" · "):
        if _DATE.search(part):
            assert "seen by watch287g" in part, part


def test_dates_say_whose_they_are_and_never_contradict_the_signing_date():
    # watch287g first saw the application on ICE's pending list long after
    # ICE's signing date (it started watching later, or ICE's pending list lagged).
    late = describe({**agreement_event(signed="2025-06-05", from_pending=True,
                                       pending_since="2026-11-28T14:00:00Z"), "id": 1})
    assert ("Signed", "2025-06-05 (ICE's list)") in late.fields
    assert ("ICE's pending list", "listed it as pending until now") in late.fields
    assert "2026-11-28" not in repr(late.fields)
    early = describe({**agreement_event(signed="2025-06-05", from_pending=True,
                                        pending_since="2025-05-01T14:00:00Z"), "id": 2})
    assert ("ICE's pending list", "listed it as pending until now (first seen by watch287g 2025-05-01)") \
        in early.fields
    gone = describe({**agreement_event(ev.TERMINATED, missing_since="2025-02-20T18:00:00Z", last_listed={
        "file_name": "participatingAgencies-20250219.xlsx", "line": 88, "observed_at": "2025-02-19T18:00:00Z"}),
        "id": 3})
    assert ("Off ICE's list since", "2025-02-20 (seen by watch287g)") in gone.fields
    back = describe({**agreement_event(ev.REINSTATED, terminated_at="2025-02-27T18:00:00Z"), "id": 4})
    renewed = describe({**agreement_event(ev.RENEWED, previous_signed="2020-05-01"), "id": 5})
    for view in (late, early, gone, back, renewed):
        _dates_are_attributed(view)


# --- corrections and operator alerts for people (issue 9, item 3) ---------------

INTERNAL_NAMES = ("moa_url", "addendum_url", "agency_type", "observed_at", "snapshot_id", "reason", "failing_since",
                  "last_ok", "last_error", "(blank)", "snapshot.quarantined",
                  "source.failing", "source.recovered", "source.stale", "delivery.failing")
_QUOTED = re.compile(r"https?://\S+|\S+\.xlsx|channel_not_found")     # addresses, ICE's file names, Slack's words


def _internal_names(shown: str) -> list[str]:
    """Key names (or any snake_case word) in what a person reads."""
    words = _QUOTED.sub("", shown)
    return [name for name in INTERNAL_NAMES if name in words] + re.findall(r"\b[a-z]+_[a-z_]+\b", words)


def _everything_shown(events: list[dict]) -> tuple[str, str, str]:
    """(Slack as read, one text object a line; the e-mail's subject; its text part)."""
    messages = render_batch(events, "instant", SlackSettings(), can_thread=True)
    slack = "\n".join(slack_mrkdwn.render(o).text.replace("\n", " ") for m in messages
                      for o in slack_mrkdwn.text_objects({"blocks": m.blocks, "attachments": m.attachments}))
    mail = render_email(events, footer_lines([], True, EmailSettings()), "instant", "ops@news.example", "tok",
                        dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc), EmailSettings())
    body = mail.get_body(("plain",)).get_content().split("\n-- \n")[0]       # the footer aside
    return slack, mail["Subject"], body


def test_a_correction_reads_for_people():
    corrected = agreement_event(ev.CORRECTED, county="Polk County", changes={
        "moa_url": {"old": None, "new": "https://www.ice.gov/doclib/287gMOA/r_287gPolk.pdf"},
        "county": {"old": "Polk", "new": "Polk County"}, "agency_type": {"old": None, "new": "County"}})
    slack, subject, body = _everything_shown([{**corrected, "id": 1}])
    for shown in (slack, body):
        assert "MOA link added; County: Polk → Polk County; Agency type added: County" in shown
        assert not _internal_names(shown)
        assert shown.count("Polk County\n") + shown.count("County: Polk County ·") == 0   # shown once, as a change


OPERATOR_EVENTS = [
    ev.operator_event(ev.SNAPSHOT_QUARANTINED, "2025-03-01T18:07:51Z",
                      "ice participating list quarantined: 12 agreements, down from 1274 in the last good list",
                      source={"kind": "participating", "file_name": "participatingAgencies-20250301.xlsx",
                              "sha256": "ab" * 32, "observed_at": "2025-03-01T18:07:51Z", "source": "ice"},
                      reason="12 agreements, down from 1274 in the last good list", snapshot_id=9),
    ev.operator_event(ev.SOURCE_FAILING, "2025-03-01T19:00:00Z",
                      "ice: 3 checks in a row failed since 2025-03-01T17:00:00Z; last: cannot resolve host www.ice.gov",
                      source="ice", failures=3, failing_since="2025-03-01T17:00:00Z", last_ok="2025-03-01T16:00:00Z",
                      last_error="cannot resolve host www.ice.gov"),
    ev.operator_event(ev.SOURCE_RECOVERED, "2025-03-01T20:00:00Z",
                      "ice is working again after 3 checks failed since 2025-03-01T17:00:00Z",
                      source="ice", failures=3, failing_since="2025-03-01T17:00:00Z"),
    ev.operator_event(ev.SOURCE_STALE, "2025-03-01T20:00:00Z",
                      "ice's pending list unchanged for 21.5 days (last new list 2025-02-08T06:00; alert threshold "
                      "21 days)", source="ice", kind="pending", condition="stale",
                      last_accepted="2025-02-08T06:00:00Z", days=21.5),
    ev.operator_event(ev.DELIVERY_FAILING, "2025-03-01T20:00:00Z",
                      "Slack channel C0123ABCD: 5 failed attempts; last error: Slack answered HTTP 200: "
                      "channel_not_found", destination="slack:C0123ABCD", attempts=5,
                      last_error="Slack answered HTTP 200: channel_not_found"),
]


@pytest.mark.parametrize("event", OPERATOR_EVENTS, ids=[e["type"] for e in OPERATOR_EVENTS])
def test_an_operator_alert_reads_for_people(event):
    slack, subject, body = _everything_shown([{**event, "id": 1}])
    for shown in (slack, body, subject):
        assert not _internal_names(shown)
    for fact in ("12 agreements, down from 1274", "cannot resolve host", "channel_not_found"):
        assert slack.count(fact) <= 1 and body.count(fact) <= 1                  # said once
    for shown in (slack, body):
        for line in shown.splitlines():
            if _DATE.search(line) and "since" not in line:
                assert "watch287g" in line or "check" in line, line              # our dates, labelled


def test_a_long_subject_is_cut_between_words():
    reason = "the participating link served a list shaped like the pending list " * 4
    event = {**OPERATOR_EVENTS[0], "reason": reason.strip(), "id": 1}
    _slack, subject, _body = _everything_shown([event])
    full = "287(g): " + describe(event).headline
    assert len(subject) <= 150 and subject.endswith("…")
    kept = subject[:-1]
    assert full.startswith(kept) and full[len(kept)] == " "                   # not mid-word


@pytest.mark.parametrize("scraped, escaped", [
    ("<!here> & co", "&lt;!here&gt; &amp; co"),
    ("*x* _y_ ~z~ `w`", "∗x∗ ˍyˍ ∼z∼ ˋwˋ"),
    ("a_b 2*3 x~y", "a_b 2*3 x~y"),            # inside a word these are text to Slack: kept
    ("> Polk", "› Polk"),
    ("Polk > Lee", "Polk &gt; Lee"),
])
def test_escape_for_mrkdwn(scraped, escaped):
    assert escape(scraped) == escaped
