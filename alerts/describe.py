"""What an alert says about one event, before any markup.

Every string here is plain, unescaped text (scraped values included); each
renderer escapes for its own medium. Links pass ``safe_url`` first: only
http(s), nothing that could break out of Slack's ``<url|label>`` or an HTML
attribute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from watch287g.alerts.subscriptions import state_name
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
    ev.PAGE_CHANGED: "page changed",
}


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
    return f"Operator alert: {kind}: {clean_text(event.get('message'))}"


def describe(event: dict) -> EventView:
    view = EventView(event_id=event["id"], type=event.get("type", ""), state=event.get("state"),
                     headline=headline(event))
    if ev.is_operator_event(event):
        view.fields = [(key, clean_text(value)) for key, value in sorted(event.items())
                       if key not in ("id", "type", "message") and isinstance(value, (str, int, float))]
        return view
    view.fields = _fields(event)
    view.links = [(label, url) for label, key in (("MOA", "moa_url"), ("Addendum", "addendum_url"),
                                                  ("Page", "url"))
                  if (url := safe_url(event.get(key)))]
    view.evidence = evidence(event)
    return view


def _fields(event: dict) -> list[tuple[str, str]]:
    fields = []
    if event.get("state"):
        fields.append(("State", state_name(event["state"])))
    for label, key in (("County", "county"), ("Model", "model"), ("Agency type", "agency_type")):
        if event.get(key):
            fields.append((label, clean_text(event[key])))
    signed = event.get("signed")
    if signed:
        previous = event.get("previous_signed")
        fields.append(("Signed", f"{signed} (previously {previous})" if previous else str(signed)))
    if event.get("pending_since"):
        fields.append(("Pending since", str(event["pending_since"])[:10]))
    if event.get("missing_since"):
        fields.append(("Missing since", str(event["missing_since"])[:10]))
    if event.get("terminated_at"):
        fields.append(("Was terminated", str(event["terminated_at"])[:10]))
    changes = event.get("changes") or {}
    shown = [f"{name}: {_value(c.get('old'))} → {_value(c.get('new'))}" for name, c in changes.items()
             if isinstance(c, dict) and not (event.get("type") == ev.RENEWED and name == "signed")]
    if shown:
        fields.append(("Changed", "; ".join(shown)))
    if event.get("type") == ev.PAGE_CHANGED and event.get("summary"):
        fields.append(("What changed", clean_text(event["summary"])))
    return fields


def _value(value: object) -> str:
    return clean_text(value) if value not in (None, "") else "(blank)"


def evidence(event: dict) -> str:
    """ICE's file, when it was observed, its sha256 and the list row; for a
    watched page, its address and when the change was seen."""
    source = event.get("source") or {}
    if event.get("type") == ev.PAGE_CHANGED:
        page = clean_text(source.get("final_url") or event.get("url") or "")
        return f"page {page} · observed {when(event.get('observed_at'))}"
    file_part = f"ICE file {clean_text(source.get('file_name')) or '(unnamed)'}"
    parts = [file_part, f"observed {when(source.get('observed_at') or event.get('observed_at'))}"]
    if source.get("sha256"):
        parts.append(f"sha256 {short_sha(source['sha256'])}")
    row = event.get("row") or {}
    last = event.get("last_listed") or {}
    if event.get("type") in (ev.TERMINATED, ev.PENDING_WITHDRAWN):
        parts[0] = f"absent from {file_part}"
        if last:
            parts.append(f"last listed in {clean_text(last.get('file_name')) or 'an earlier list'}"
                         f" row {last.get('line', '?')} ({when(last.get('observed_at'))})")
    elif row.get("line"):
        parts.append(f"row {row['line']}")
    return " · ".join(parts)
