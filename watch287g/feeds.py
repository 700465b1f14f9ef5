"""Atom feeds of the event log (RFC 4287), written with the report.

One feed for everything a subscriber gets by default (every public event but
corrections), one per state, one per event type (corrections included). Each
entry carries the alert's text and its evidence (ICE's file, when it was
live, its sha256 and the row). Entry ids are ``urn:uuid:`` names derived
from what the event is about, so they stay the same when the report is
rebuilt, or the state replayed from the archive.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from markupsafe import escape

from watch287g.alerts.describe import SHORT_VERBS, EventView, describe
from watch287g.alerts.subscriptions import state_name
from watch287g.core import __version__
from watch287g.core import events as ev
from watch287g.core.timeutil import parse_iso

ENTRIES_PER_FEED = 100
FEED_DIR = "feeds"
# Names entry and feed ids (uuid5); never change it, or every reader sees every entry again.
_ID_NAMESPACE = uuid.UUID("7f1c9a52-3d0e-4f1b-9a57-2870e2cb1d44")


@dataclass
class Feed:
    path: str                   # relative to the report folder, e.g. "feeds/states/FL.atom"
    label: str                  # what the feed is of, in a word or two: "Florida", "signed"
    title: str
    subtitle: str
    events: list[dict] = field(default_factory=list)


def entry_id(event: dict) -> str:
    """What the event is about, not where it sits in this state's log."""
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    subject = event.get("uid") or event.get("url") or ""
    name = "|".join((event["type"], str(subject), event["observed_at"], str(source.get("sha256") or "")))
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, name)}"


def type_feed_path(event_type: str) -> str:
    return f"{FEED_DIR}/types/{event_type.replace('.', '-')}.atom"


def state_feed_path(state: str) -> str:
    return f"{FEED_DIR}/states/{state}.atom"


ALL_FEED = f"{FEED_DIR}/all.atom"


def plan_feeds(events: list[dict], states: Iterable[str] = ()) -> list[Feed]:
    """Which feeds there are, with their events (newest first, capped): one
    per state with events and per state in ``states`` (the report's pages),
    so a state can be followed before anything happens in it."""
    public = [e for e in events if e["type"] in ev.SUBSCRIBER_TYPES]
    newest_first = sorted(public, key=lambda e: (e["observed_at"], e["id"]), reverse=True)
    everything = [e for e in newest_first if e["type"] in ev.DEFAULT_SUBSCRIBED_TYPES]
    feeds = [Feed(ALL_FEED, "everything", "287(g) agreements: every change",
                  "Signings, renewals, terminations, pending applications and watched pages "
                  "(corrections have their own feed)", everything)]
    for state in sorted({e["state"] for e in everything if e.get("state")} | set(states)):
        feeds.append(Feed(state_feed_path(state), state_name(state), f"287(g) agreements in {state_name(state)}",
                          f"Every change in {state_name(state)} but corrections",
                          [e for e in everything if e.get("state") == state]))
    for event_type in ev.SUBSCRIBER_TYPES:
        chosen = [e for e in newest_first if e["type"] == event_type]
        if chosen:
            label = SHORT_VERBS[event_type]
            feeds.append(Feed(type_feed_path(event_type), label, f"287(g) agreements: {label}",
                              f"Every {event_type} event", chosen))
    for feed in feeds:
        feed.events = feed.events[:ENTRIES_PER_FEED]
    return feeds


def entry_html(view: EventView, archive_url: str | None = None) -> str:
    """The alert's text and its evidence, as HTML (every value escaped)."""
    parts = [f"<p><strong>{escape(view.headline)}</strong></p>"]
    if view.fields:
        parts.append("<ul>" + "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in view.fields) + "</ul>")
    if view.links:
        parts.append("<p>" + " · ".join(f'<a href="{escape(url)}">{escape(label)}</a>'
                                        for label, url in view.links) + "</p>")
    if view.evidence:
        archived = f' (<a href="{escape(archive_url)}">the archived file</a>)' if archive_url else ""
        parts.append(f"<p>Evidence: {escape(view.evidence)}{archived}</p>")
    return "".join(parts)


def render_feed(feed: Feed, base_url: str | None, updated: dt.datetime, archive_published: bool,
                entries: dict[int, tuple[str, str]] | None = None) -> bytes:
    """One feed as Atom XML. With ``base_url`` (where the report is
    published) entries link to the state's page and the feed to itself.
    ``entries`` keeps each event's (title, content) for the next feed: an
    event is in several."""
    from feedgen.feed import FeedGenerator

    generator = FeedGenerator()
    generator.id(f"{base_url}/{feed.path}" if base_url else
                 f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, 'feed|' + feed.path)}")
    generator.title(feed.title)
    generator.subtitle(feed.subtitle)
    generator.author({"name": "watch287g"})
    generator.generator("watch287g", version=__version__)
    generator.updated(parse_iso(feed.events[0]["observed_at"]) if feed.events else updated)
    if base_url:
        generator.link(href=f"{base_url}/{feed.path}", rel="self", type="application/atom+xml")
        generator.link(href=f"{base_url}/index.html", rel="alternate", type="text/html")
    for event in feed.events:
        entry = generator.add_entry(order="append")
        entry.id(entry_id(event))
        title, content = _entry_text(event, base_url, archive_published, {} if entries is None else entries)
        entry.title(title)
        moment = parse_iso(event["observed_at"])
        entry.updated(moment)
        entry.published(moment)
        entry.content(content, type="html")
        entry.category(term=event["type"])
        if event.get("state"):
            entry.category(term=event["state"], label=state_name(event["state"]))
        if base_url:
            page = f"states/{event['state']}.html" if event.get("state") else "index.html"
            entry.link(href=f"{base_url}/{page}#event-{event['id']}", rel="alternate", type="text/html")
    return generator.atom_str(pretty=True)


def _entry_text(event: dict, base_url: str | None, archive_published: bool,
                entries: dict[int, tuple[str, str]]) -> tuple[str, str]:
    if event["id"] not in entries:
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        sha = source.get("sha256")
        archive_url = f"{base_url}/archive/{sha}.xlsx" if base_url and archive_published and sha else None
        view = describe(event)
        entries[event["id"]] = (view.headline, entry_html(view, archive_url))
    return entries[event["id"]]


def write_feeds(folder: Path, feeds: list[Feed], base_url: str | None, updated: dt.datetime,
                archive_published: bool) -> None:
    entries: dict[int, tuple[str, str]] = {}
    for feed in feeds:
        target = folder / feed.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(render_feed(feed, base_url, updated, archive_published, entries))

