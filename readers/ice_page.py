"""Read ICE's 287(g) page: which links serve the two lists, and what the page
says about them. Pure functions over HTML; no network, no state.

ICE's file names are irregular (``…pm2``, ``…mid``, ``…pm copy``, typo'd
dates, ``ParticipatingAgency…``) and, since spring 2026, hidden behind
``/file-download/download/public/<id>`` addresses. So a link is identified by
what a reader sees: its button text ("View 287(g) Participating Agencies") or,
for a button with generic text, the heading it sits under ("287(g) Pending
Agencies"). The page's other documents (letters of interest, MOA templates,
fact sheets, encounter reports, the MOA links inside the old HTML table) are
never taken for a list.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Iterator

from watch287g.core import normalize as norm

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

KINDS = ("participating", "pending")
_KIND_WORDS = {
    "participating": re.compile(r"\bparticipating\b", re.I),
    "pending": re.compile(r"\bpending\b", re.I),
}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Addresses that can serve a spreadsheet: ICE's dated /doclib names, and the
# opaque download addresses of 2026 whose real name comes in Content-Disposition.
_LIST_SUFFIXES = (".xlsx", ".xls", ".xlsm", ".csv")
_DOWNLOAD_PATH = re.compile(r"/file-download/download/public/\d+", re.I)
# A button under a list heading whose own text says only "View"/"Download"...
_GENERIC_TEXT = re.compile(r"\b(view|download|list|excel|spreadsheet|xlsx|agencies|here)\b", re.I)
# ...but never a link that names some other document.
_OTHER_DOCUMENT = re.compile(r"\b(template|letter|moa|memorandum|fact ?sheet|report|form|map|faq)\b", re.I)
_AS_OF = re.compile(r"\bAs of\b")
# A sentence ends at a full stop followed by a capital, except after a.m./p.m.
# and single capitals (U.S.).
_SENTENCE_END = re.compile(r"(?<![ap]\.m)(?<!\b[A-Z])\.(?=\s+[A-Z(]|\s*$)")
_PREVIOUS_STRINGS_SEARCHED = 80  # how far back from a button to look for its "As of" sentence
_URL_SAFE = "%/:=&?~+!$,;'@()*[]"
_BLOCK_WORDS = re.compile(
    r"access denied|request rejected|forbidden|captcha|are you a (robot|human)|unusual traffic|"
    r"bot (check|detection)|pardon our interruption|just a moment", re.I)


@dataclass
class IcePage:
    """What ICE's page says. Stored as-is (``asdict``) beside the page's HTTP
    validators, so a later 304 Not Modified can reuse it."""

    links: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(KINDS))
    link_texts: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(KINDS))
    as_of: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(KINDS))
    updated: str | None = None          # the "Updated:" <time datetime=...>
    title: str | None = None
    blocked: str | None = None          # why this is not ICE's page at all (a block page)

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> "IcePage":
        return cls(**record)


def soup_of(html: bytes | str) -> BeautifulSoup:
    # bs4 (with soupsieve) loads only when a page is parsed: a check whose
    # page answers 304 Not Modified never needs it.
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "lxml")


def parse_page(html: bytes | str, url: str) -> IcePage:
    return read_page(soup_of(html), url)


def read_page(soup: BeautifulSoup, url: str) -> IcePage:
    page = IcePage(title=_title(soup), updated=_updated(soup), blocked=blocked_reason(soup))
    if page.blocked:
        return page
    base = base_url(soup, url)
    by_text: dict[str, Tag] = {}
    by_heading: dict[str, Tag] = {}
    heading_kinds: dict[int, str | None] = {}     # id(heading) -> the list it names, read once
    for anchor, heading in anchors_outside_tables(soup):
        href = absolute_url(base, anchor["href"])
        if href is None:
            continue
        text = norm.clean_text(anchor.get_text(" "))
        kind = _kind_named(text)
        if kind and not _OTHER_DOCUMENT.search(text):
            by_text.setdefault(kind, anchor)
            continue
        if heading is not None and _is_list_address(href) and _GENERIC_TEXT.search(text) \
                and not _OTHER_DOCUMENT.search(text):
            if id(heading) not in heading_kinds:
                heading_kinds[id(heading)] = _kind_named(norm.clean_text(heading.get_text(" ")))
            kind = heading_kinds[id(heading)]
            if kind:
                by_heading.setdefault(kind, anchor)
    for kind in KINDS:
        anchor = by_text.get(kind) or by_heading.get(kind)
        if anchor is None:
            continue
        page.links[kind] = absolute_url(base, anchor["href"])
        page.link_texts[kind] = norm.clean_text(anchor.get_text(" "))
        page.as_of[kind] = as_of_before(anchor)
    return page


_TABLE_END = object()   # marks, in the walk below, where a table's content ends


def anchors_outside_tables(soup: BeautifulSoup) -> Iterator[tuple[Tag, Tag | None]]:
    """Each link (``<a href>``) outside any table, in document order, with
    the last heading before it. One walk over the document: a page with
    thousands of links costs no more per link than a page with ten (looking
    back from each link for its heading made ICE-sized pages quadratic).
    Tables are skipped because the HTML-table era's MOA links live there."""
    from bs4 import Tag     # loaded with the soup already (see soup_of)

    heading: Tag | None = None
    tables_open = 0
    todo: list = list(reversed(soup.contents))
    while todo:
        node = todo.pop()
        if node is _TABLE_END:
            tables_open -= 1
            continue
        if not isinstance(node, Tag):
            continue
        if node.name in _HEADINGS:
            heading = node
        elif node.name == "table":
            tables_open += 1
            todo.append(_TABLE_END)
        elif node.name == "a" and node.get("href") is not None and not tables_open:
            yield node, heading
        todo.extend(reversed(node.contents))


def as_of_before(element: Tag) -> str | None:
    """The "As of <date>, ICE has …" sentence nearest before ``element``,
    within its section (the search stops at the section's heading)."""
    for text in element.find_all_previous(string=True, limit=_PREVIOUS_STRINGS_SEARCHED):
        parent = text.parent
        if parent is not None and parent.name in _HEADINGS:
            return None
        if _AS_OF.search(text):
            block = parent.find_parent(["p", "div", "li"]) if parent.name not in ("p", "div", "li") else parent
            return first_sentence(norm.clean_text((block or parent).get_text(" ")))
    return None


def first_sentence(text: str) -> str | None:
    start = _AS_OF.search(text)
    if not start:
        return None
    rest = text[start.start():]
    end = _SENTENCE_END.search(rest)
    return rest[: end.end()] if end else rest


def blocked_reason(soup: BeautifulSoup) -> str | None:
    """Why this response is a block or challenge page rather than the site's
    own page (CDNs serve these with 200 OK), else None."""
    title = _title(soup) or ""
    heading = soup.find(["h1", "h2"])
    heading_text = norm.clean_text(heading.get_text(" ")) if heading else ""
    for text in (title, heading_text):
        if text and _BLOCK_WORDS.search(text):
            return f"the server sent a page titled {text[:80]!r} instead of the real page (blocked?)"
    body = soup.body
    if body is not None and len(body.get_text(" ", strip=True)) < 600:
        small = norm.clean_text(body.get_text(" "))
        if _BLOCK_WORDS.search(small) or re.search(r"\bReference #\d", small):
            return f"the server sent a short block page instead of the real page: {small[:80]!r}"
    return None


def base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    return urllib.parse.urljoin(url, base["href"].strip()) if base else url


def absolute_url(base: str, href: str) -> str | None:
    """An absolute http(s) address without its fragment, or None for
    mailto:, javascript:, in-page anchors and the like."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    url, _fragment = urllib.parse.urldefrag(urllib.parse.urljoin(base, href))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return None
    # Percent-encode what a browser would (ICE has spaces in MOA file names).
    return urllib.parse.quote(url, safe=_URL_SAFE)


def _kind_named(text: str) -> str | None:
    named = [kind for kind, words in _KIND_WORDS.items() if words.search(text)]
    return named[0] if len(named) == 1 else None  # "participating and pending" names neither


def _is_list_address(url: str) -> bool:
    path = urllib.parse.urlsplit(url).path
    return path.lower().endswith(_LIST_SUFFIXES) or bool(_DOWNLOAD_PATH.search(path))


def _title(soup: BeautifulSoup) -> str | None:
    if soup.title is None:
        return None
    return norm.clean_text(soup.title.get_text(" ")) or None


def _updated(soup: BeautifulSoup) -> str | None:
    for time in soup.find_all("time", datetime=True):
        block = time.find_parent(["span", "div", "p"]) or time.parent
        if block is not None and "updated" in block.get_text(" ").lower():
            return time["datetime"]
    return None
