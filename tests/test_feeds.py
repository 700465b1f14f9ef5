"""Atom feeds of replayed real lists: valid RFC 4287, stable ids, the right
events in each, escaped text."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from lxml import etree
from lxml import html as lxml_html

from tests.support.atom import ATOM, assert_valid_atom, atom_schema
from tests.support.replays import replay_fixture_lists
from watch287g import feeds
from watch287g.core import events as ev
from watch287g.history import History
from watch287g.state.store import Store

NOW = dt.datetime(2025, 9, 23, tzinfo=dt.timezone.utc)


def replay_into(folder):
    return History(Store(replay_fixture_lists(folder)))


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return replay_into(tmp_path_factory.mktemp("feeds"))


def build(history, folder, base_url=None):
    plan = feeds.plan_feeds(history.events())
    feeds.write_feeds(folder, plan, base_url, NOW, archive_published=base_url is not None)
    return plan


def entries(path):
    return assert_valid_atom(path.read_bytes()).findall(f"{ATOM}entry")


@pytest.mark.parametrize("base_url", [None, "https://example.org/287g"])
def test_every_feed_is_valid_atom(history, tmp_path, base_url):
    plan = build(history, tmp_path, base_url)
    paths = {feed.path for feed in plan}
    assert {"feeds/all.atom", "feeds/states/FL.atom", "feeds/types/agreement-signed.atom",
            "feeds/types/agreement-corrected.atom", "feeds/types/pending-added.atom"} <= paths
    for feed in plan:
        document = assert_valid_atom((tmp_path / feed.path).read_bytes())
        assert len(document.findall(f"{ATOM}entry")) == len(feed.events) <= feeds.ENTRIES_PER_FEED
        if base_url:
            self_link = document.find(f"{ATOM}link[@rel='self']")
            assert self_link.get("href") == f"{base_url}/{feed.path}"


def test_the_validator_rejects_a_broken_feed(history, tmp_path):
    build(history, tmp_path)
    document = etree.fromstring((tmp_path / "feeds/all.atom").read_bytes())
    document.remove(document.find(f"{ATOM}id"))
    assert not atom_schema().validate(document)


def test_each_feed_holds_its_events(history, tmp_path):
    plan = {feed.path: feed for feed in build(history, tmp_path)}
    everything = plan["feeds/all.atom"].events
    assert everything and ev.CORRECTED not in {e["type"] for e in everything}
    assert {e["state"] for e in plan["feeds/states/FL.atom"].events} == {"FL"}
    assert {e["type"] for e in plan["feeds/types/agreement-corrected.atom"].events} == {ev.CORRECTED}
    newest = [e["observed_at"] for e in everything]
    assert newest == sorted(newest, reverse=True)
    titles = [e.findtext(f"{ATOM}title") for e in entries(tmp_path / "feeds/types/agreement-signed.atom")]
    assert all(" signed a " in t for t in titles)


def test_entries_carry_the_alert_and_its_evidence(history, tmp_path):
    build(history, tmp_path, "https://example.org/287g")
    entry = entries(tmp_path / "feeds/states/FL.atom")[0]
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    text = lxml_html.fromstring(content.text).text_content()
    assert "Evidence: ICE file 20250711T0900_participatingAgencies07112025am.xlsx" in text
    assert "sha256 cf1d289ab056" in text and "row " in text
    link = entry.find(f"{ATOM}link").get("href")
    assert link.startswith("https://example.org/287g/states/FL.html#event-")


def test_entry_ids_survive_a_rebuild_and_a_fresh_replay(history, tmp_path):
    build(history, tmp_path / "a")
    again = replay_into(tmp_path / "replayed")
    build(again, tmp_path / "b")
    ids_a = [e.findtext(f"{ATOM}id") for e in entries(tmp_path / "a/feeds/all.atom")]
    ids_b = [e.findtext(f"{ATOM}id") for e in entries(tmp_path / "b/feeds/all.atom")]
    assert ids_a == ids_b and len(set(ids_a)) == len(ids_a)
    assert all(i.startswith("urn:uuid:") for i in ids_a)


def test_scraped_text_is_escaped(tmp_path):
    event = {"id": 1, "type": ev.SIGNED, "observed_at": "2025-07-11T09:00:00Z", "uid": "x",
             "state": "FL", "agency": '<script>alert(1)</script> "PD"', "model": "Task Force Model",
             "signed": "2025-07-01", "county": "<b>Polk</b>", "agency_type": "County",
             "moa_url": 'javascript:alert(1)', "addendum_url": None,
             "source": {"kind": "participating", "file_name": "<i>x</i>.xlsx", "sha256": "a" * 64,
                        "observed_at": "2025-07-11T09:00:00Z"}, "row": {"line": 3, "values": {}}}
    feed = feeds.Feed("feeds/x.atom", "x", "t", "s", [event])
    document = assert_valid_atom(feeds.render_feed(feed, None, NOW, archive_published=False))
    markup = document.find(f"{ATOM}entry/{ATOM}content").text
    fragment = lxml_html.fromstring(f"<div>{markup}</div>")
    assert not fragment.xpath("//script|//b|//i") and "javascript:" not in markup
    assert "<script>alert(1)</script>" in html.unescape(fragment.text_content())
