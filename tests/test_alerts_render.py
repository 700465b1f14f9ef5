"""What alerts say: names, headlines, links, Block Kit limits, e-mail headers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from watch287g.alerts.describe import describe, display_name, headline, safe_url
from watch287g.alerts.render_email import header_text, render_email
from watch287g.alerts.render_slack import (
    MAX_BLOCKS,
    SECTION_TEXT,
    escape,
    fit,
    render_batch,
)
from watch287g.alerts.settings import EmailSettings, SlackSettings
from watch287g.core import events as ev

from tests.support.alerts_env import INJECTION_AGENCY, agreement_event, burst


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
    assert ("Signed", "2025-02-26 (previously 2020-05-01)") in renewed.fields
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
    message = render_email([event], ["s1: test"], "instant", "r@news.example", "tok",
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
    assert view.evidence == "page https://www.fdle.state.fl.us/SBIE · observed 2025-06-02 13:00 UTC"
