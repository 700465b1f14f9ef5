"""What an alert says about one event, before any markup.

Every string here is plain, unescaped text (scraped values included); each
renderer escapes for its own medium. Links pass ``safe_url`` first: only
http(s), nothing that could break out of Slack's ``<url|label>`` or an HTML
attribute.

Written for people: no internal field or key names, no fact twice (the
headline's state and model are not repeated as fields), and every date says
whose it is: ICE's (the signing date in ICE's list) or watch287g's (when it
saw a list, first saw an application, found a row missing). A date of ours
that would read as contradicting ICE's signing date is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from watch287g.alerts.subscriptions import describe_destination
from watch287g.core import events as ev
from watch287g.core.normalize import clean_text, document_url

_SMALL_WORDS = {"OF", "THE", "AND", "FOR", "IN", "ON", "AT", "TO", "BY"}
_ACRONYMS = {"DOC", "DPS", "DHS", "HSI", "ICE", "US", "USA", "SO", "PD", "DA", "II", "III", "IV", "VI",
             "FDLE", "FHP", "GBI", "TBI", "SBI", "DCI", "DEA", "FBI", "ATF", "CBP", "ADOC", "TDCJ", "A&M"}
_ABBREVIATIONS = {"ST", "MT", "FT", "TWP", "CNTY", "DEPT"}   # read as words: St, Twp...
_OFFICE_ACRONYM = re.compile(r"^[A-Z]{1,3}(SO|PD)$")         # MCSO, OCSO, NPD
_APOSTROPHE_SUFFIXES = {"S", "LL", "RE", "VE", "D", "T", "M"}
_PART_SPLIT = re.compile(r"([-/(]+)")
_SHA_SHORT = 12
_VERBS = {
    ev.SIGNED: "{who} signed a {model} agreement",
    ev.RENEWED: "{who} renewed its {model} agreement",
    ev.TERMINATED: "{who}: {model} agreement terminated (off ICE's list)",
    ev.REINSTATED: "{who}: {model} agreement back on ICE's list",
    ev.CORRECTED: "{who}: ICE corrected its {model} listing",
    ev.PENDING_ADDED: "{who} applied for a {model} agreement (ICE's pending list)",
    ev.PENDING_WITHDRAWN: "{who} left ICE's pending list ({model})",
}
SHORT_VERBS = {
    ev.SIGNED: "signed", ev.RENEWED: "renewed", ev.TERMINATED: "terminated", ev.REINSTATED: "reinstated",
    ev.CORRECTED: "corrected", ev.PENDING_ADDED: "pending added", ev.PENDING_WITHDRAWN: "pending withdrawn",
    ev.PAGE_CHANGED: "page changed", ev.SNAPSHOT_QUARANTINED: "list quarantined",
    ev.SOURCE_FAILING: "source failing", ev.SOURCE_RECOVERED: "source recovered",
    ev.SOURCE_STALE: "list unchanged", ev.DELIVERY_FAILING: "delivery failing",
}
# What a person calls each listed value ICE can correct.
_FIELD_NAMES = {"agency": "Name", "state": "State", "model": "Model", "county": "County",
                "agency_type": "Agency type", "moa_url": "MOA link", "addendum_url": "Addendum link",
                "signed": "Signing date"}
_LINK_FIELDS = {"moa_url", "addendum_url"}
ICE_DATE = "ICE's list"              # whose date: what ICE's list says
OUR_DATE = "seen by watch287g"       # whose date: when watch287g saw it


@dataclass
class EventView:
    event_id: int
    type: str
    state: str | None                       # USPS code, None for operator and some page events
    headline: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)   # (label, checked URL)
    evidence: str = ""


def safe_url(raw: object) -> str | None:
    """An http(s) URL fit to put inside link syntax, else None."""
    if not isinstance(raw, str):
        return None
    url = document_url(raw)
    if url is None or any(ch in url for ch in "<>\"'`|\\") or any(not ch.isprintable() for ch in url):
        return None
    return url


def display_name(raw: object) -> str:
    """An agency name as a person writes it: ICE's ALL CAPS re-cased
    ("POLK COUNTY SHERIFF'S OFFICE" -> "Polk County Sheriff's Office"),
    anything already in mixed case kept as ICE wrote it."""
    text = clean_text(raw)
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 4 or any(ch.islower() for ch in letters):
        return text
    words = text.split(" ")
    return " ".join(_recase_word(word, first=(i == 0)) for i, word in enumerate(words))


def _recase_word(word: str, first: bool) -> str:
    bare = word.strip(".,;:()")
    if bare in _ACRONYMS or _OFFICE_ACRONYM.match(bare) or (
            bare.isalpha() and len(bare) <= 4 and bare not in _ABBREVIATIONS and not set(bare) & set("AEIOU")):
        return word
    if bare in _SMALL_WORDS and not first:
        return word.lower()
    return "".join(_recase_part(p) if not _PART_SPLIT.fullmatch(p) else p for p in _PART_SPLIT.split(word))


def _recase_part(part: str) -> str:
    if "'" in part:
        head, _, tail = part.partition("'")
        tail = tail.lower() if tail.upper() in _APOSTROPHE_SUFFIXES else _recase_part(tail)
        return f"{_recase_part(head)}'{tail}"
    if part.startswith("MC") and len(part) > 3 and part[2:].isalpha():
        return "Mc" + part[2:].capitalize()
    return part.capitalize()


def short_sha(sha256: object) -> str:
    return str(sha256 or "")[:_SHA_SHORT]


def when(iso: object) -> str:
    """2025-02-21T21:49:37Z -> 2025-02-21 21:49 UTC (the evidence's clock)."""
    text = str(iso or "")
    if "T" not in text:
        return text
    day, _, clock = text.partition("T")
    return f"{day} {clock[:5]} UTC"


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")].rstrip(" ,;:·—-")
    return cut + "…"


def who(event: dict) -> str:
    name = display_name(event.get("agency")) or "An agency"
    return f"{name} ({event['state']})" if event.get("state") else name


def headline(event: dict) -> str:
    kind = event.get("type")
    if kind in _VERBS:
        return _VERBS[kind].format(who=who(event), model=event.get("model") or "287(g)")
    if kind == ev.PAGE_CHANGED:
        title = clean_text(event.get("title") or event.get("name") or event.get("url") or "")
        return f"A watched 287(g) page changed: {title}" if title else "A watched 287(g) page changed"
    return _operator_headline(event)


def describe(event: dict) -> EventView:
    view = EventView(event_id=event["id"], type=event.get("type", ""), state=event.get("state"),
                     headline=headline(event))
    if ev.is_operator_event(event):
        view.fields = _operator_fields(event)
        view.evidence = _list_evidence(event) if event.get("type") == ev.SNAPSHOT_QUARANTINED else ""
        return view
    view.fields = _fields(event)
    view.links = [(label, url) for label, key in (("MOA", "moa_url"), ("Addendum", "addendum_url"),
                                                  ("Page", "url"))
                  if (url := safe_url(event.get(key)))]
    view.evidence = evidence(event)
    return view


def _fields(event: dict) -> list[tuple[str, str]]:
    changes = {name: c for name, c in (event.get("changes") or {}).items()
               if isinstance(c, dict) and not (event.get("type") == ev.RENEWED and name == "signed")}
    fields = []
    for label, key in (("County", "county"), ("Agency type", "agency_type")):
        if event.get(key) and key not in changes:      # a changed value is shown once, as a change
            fields.append((label, clean_text(event[key])))
    signed = event.get("signed")
    if signed and "signed" not in changes:
        previous = event.get("previous_signed")
        fields.append(("Signed", f"{signed} ({ICE_DATE}; before: {previous})" if previous
                       else f"{signed} ({ICE_DATE})"))
    if event.get("from_pending") or event.get("pending_since"):
        fields.append(("ICE's pending list", _pending_history(event)))
    if event.get("missing_since"):
        fields.append(("Off ICE's list since", f"{_day(event['missing_since'])} ({OUR_DATE})"))
    if event.get("terminated_at"):
        fields.append(("Reported terminated", f"{_day(event['terminated_at'])} (by watch287g)"))
    if changes:
        fields.append(("ICE changed", "; ".join(_change(name, c) for name, c in changes.items())))
    if event.get("type") == ev.PAGE_CHANGED and event.get("summary"):
        fields.append(("What changed", clean_text(event["summary"])))
    return fields


def _day(iso: object) -> str:
    return str(iso)[:10]


def _pending_history(event: dict) -> str:
    """A signing that ICE's pending list had before. watch287g's first
    sighting there is shown only when it does not postdate ICE's signing
    date: a later sighting (ICE's pending list lagging, or watch287g
    starting after the signing) would read as "pending after signed"."""
    first_seen = _day(event.get("pending_since") or "")
    signed = str(event.get("signed") or "")
    if first_seen and (not signed or first_seen <= signed):
        return f"listed it as pending until now (first {OUR_DATE} {first_seen})"
    return "listed it as pending until now"


def _change(name: str, change: dict) -> str:
    """One corrected value, in words: "County: Polk → Polk County"."""
    label = _FIELD_NAMES.get(name, name.replace("_", " ").capitalize())
    old, new = change.get("old"), change.get("new")
    if name in _LINK_FIELDS:
        return f"{label} {'added' if old in (None, '') else 'removed' if new in (None, '') else 'replaced'}"
    if old in (None, ""):
        return f"{label} added: {clean_text(new)}"
    if new in (None, ""):
        return f"{label} removed (was {clean_text(old)})"
    return f"{label}: {clean_text(old)} → {clean_text(new)}"


def evidence(event: dict) -> str:
    """ICE's file, when watch287g saw it, its sha256 and the list row; for a
    watched page, when the change was seen (and where, after a redirect)."""
    source = event.get("source") or {}
    if event.get("type") == ev.PAGE_CHANGED:
        final = clean_text(source.get("final_url") or "")
        moved = f" at {final}" if final and final != clean_text(event.get("url") or "") else ""
        return f"page{moved} {OUR_DATE} {when(event.get('observed_at'))}"
    parts = [_list_evidence(event)]
    row = event.get("row") or {}
    last = event.get("last_listed") or {}
    if event.get("type") in (ev.TERMINATED, ev.PENDING_WITHDRAWN):
        parts[0] = f"absent from {parts[0]}"
        if last:
            parts.append(f"last listed in {clean_text(last.get('file_name')) or 'an earlier list'}"
                         f" row {last.get('line', '?')} ({OUR_DATE} {when(last.get('observed_at'))})")
    elif row.get("line"):
        parts.append(f"row {row['line']}")
    return " · ".join(parts)


def _list_evidence(event: dict) -> str:
    """ICE's file, when watch287g saw it, and its sha256."""
    source = event.get("source") or {}
    parts = [f"ICE file {clean_text(source.get('file_name')) or '(unnamed)'}",
             f"{OUR_DATE} {when(source.get('observed_at') or event.get('observed_at'))}"]
    if source.get("sha256"):
        parts.append(f"sha256 {short_sha(source['sha256'])}")
    return " · ".join(parts)


def _operator_headline(event: dict) -> str:
    """Operator alerts, from their recorded facts (the stored ``message`` is
    the fallback for an event without them)."""
    kind, source = event.get("type"), f"source {clean_text(_source_name(event))}"
    if kind == ev.SNAPSHOT_QUARANTINED and event.get("reason"):
        list_kind = clean_text((event.get("source") or {}).get("kind") or "")
        what = f"The {list_kind} list" if list_kind else "A list"
        return f"{what} from {source} was quarantined: {clean_text(event['reason'])}"
    if kind == ev.SOURCE_FAILING and event.get("failing_since"):
        return (f"The {source} is failing: {_checks(event.get('failures'))} in a row since "
                f"{when(event.get('failing_since'))}")
    if kind == ev.SOURCE_RECOVERED and event.get("condition") == "stale" and event.get("kind"):
        return (f"The {clean_text(event.get('kind'))} list from {source} changed again (unchanged since "
                f"{when(event.get('unchanged_since'))})")
    if kind == ev.SOURCE_RECOVERED and event.get("failing_since"):
        return (f"The {source} is working again after {_checks(event.get('failures'))} failed since "
                f"{when(event.get('failing_since'))}")
    if kind == ev.SOURCE_STALE and event.get("kind"):
        days = event.get("days")
        return (f"The {clean_text(event.get('kind'))} list from {source} has not changed for "
                f"{f'{days:g} days' if isinstance(days, (int, float)) else 'too long'}")
    if kind == ev.DELIVERY_FAILING and event.get("destination"):
        return (f"Alerts to {describe_destination(event['destination'])} keep failing "
                f"({event.get('attempts', 'several')} attempts)")
    return clean_text(event.get("message")) or "watch287g needs attention"


def _operator_fields(event: dict) -> list[tuple[str, str]]:
    kind = event.get("type")
    if kind == ev.SNAPSHOT_QUARANTINED:
        return [("What happens now", "watch287g does not use this list; the last good one stays in effect "
                                     "(see: watch287g status)")]
    if kind == ev.SOURCE_FAILING:
        last_ok = event.get("last_ok")
        return [("Last error", clean_text(event.get("last_error"))),
                ("Last good check", when(last_ok) if last_ok else "none yet")]
    if kind == ev.SOURCE_STALE and event.get("last_accepted"):
        return [("Last new list", f"{when(event['last_accepted'])} ({OUR_DATE})")]
    if kind == ev.DELIVERY_FAILING and event.get("last_error"):
        return [("Last error", clean_text(event["last_error"]))]
    return []


def _source_name(event: dict) -> str:
    source = event.get("source")
    return (source.get("source") if isinstance(source, dict) else source) or "?"


def _checks(count: object) -> str:
    return f"{count} check{'' if count == 1 else 's'}"
