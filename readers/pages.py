"""What a watched page says, and what changed since the last check.

A state page (a board's page, a bill's text) is reduced to its main content's
text, normalised so that whitespace and markup changes do not count, and the
documents it links to (PDF, XLSX, DOCX...) by absolute address. Two such
readings are compared into a ``page.changed`` event that says which documents
were added or removed and, briefly, how the text changed. Pure functions.
"""

from __future__ import annotations

import difflib
import hashlib
import urllib.parse
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from watch287g.core import events as ev
from watch287g.core import normalize as norm
from watch287g.readers.ice_page import absolute_url, base_url

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

DOCUMENT_SUFFIXES = (".pdf", ".xlsx", ".xls", ".docx", ".doc", ".csv")
# When no selector is configured: the page's <main>, else its body without
# the site's navigation, header and footer (which change with site redesigns).
_AUTO_MAIN = ("main", "[role=main]")
_CHROME = ("nav", "header", "footer", "aside", "[role=navigation]", "[role=banner]", "[role=contentinfo]")
_INVISIBLE = ("script", "style", "noscript", "template", "iframe")
MAX_STORED_LINES = 5000        # a page's text lines kept for the next diff
_SUMMARY_CHANGES = 4           # changed lines quoted in an event's summary
_SUMMARY_LINE_CHARS = 120


class PageError(ValueError):
    """The page cannot be read as configured; str() is a one-line reason."""


@dataclass
class PageContent:
    title: str | None
    lines: list[str]            # the main content's text, one block per line, whitespace folded
    text_hash: str              # sha256 of the text with all whitespace folded
    links: list[dict]           # documents linked from the content: {"url", "text"}, by url

    def record(self) -> dict:
        return asdict(self)


def read_page(soup: BeautifulSoup, url: str, selector: str | None = None) -> PageContent:
    content = _main_content(soup, selector)
    base = base_url(soup, url)
    links = _document_links(content, base)
    for tag in content.select(", ".join(_INVISIBLE)):
        tag.decompose()
    lines = [norm.clean_text(line) for line in content.get_text("\n").splitlines()]
    lines = [line for line in lines if line]
    title = norm.clean_text(soup.title.get_text(" ")) if soup.title else None
    return PageContent(title=title or None, lines=lines[:MAX_STORED_LINES],
                       text_hash=text_hash(lines), links=links)


def text_hash(lines: list[str]) -> str:
    """Equal for texts that differ only in whitespace or line breaks."""
    return hashlib.sha256(" ".join(" ".join(lines).split()).encode("utf-8")).hexdigest()


def diff(old: dict, new: PageContent) -> dict | None:
    """What changed between a stored reading (``PageContent.record()``) and
    a new one; None when nothing did."""
    old_links = {link["url"]: link for link in old.get("links", [])}
    new_links = {link["url"]: link for link in new.links}
    added = [new_links[u] for u in sorted(new_links.keys() - old_links.keys())]
    removed = [old_links[u] for u in sorted(old_links.keys() - new_links.keys())]
    text_changed = old.get("text_hash") != new.text_hash
    if not (added or removed or text_changed):
        return None
    change = {"added_links": added, "removed_links": removed, "text_changed": text_changed,
              "lines_added": 0, "lines_removed": 0, "text_diff": []}
    if text_changed:
        change.update(_text_diff(old.get("lines", []), new.lines))
    return change


def change_event(source: str, url: str, final_url: str, observed_at: str, title: str | None,
                 change: dict) -> ev.PageEvent:
    """The ``page.changed`` event for a change found by ``diff``."""
    summary = describe(change)
    return {
        "type": ev.PAGE_CHANGED,
        "observed_at": observed_at,
        "source": {"source": source, "url": url, "final_url": final_url, "title": title},
        "url": url,
        "title": title,
        **change,
        "summary": summary,
        "message": f"{title or url}: {summary}",
    }


def describe(change: dict) -> str:
    parts = []
    for key, verb in (("added_links", "added"), ("removed_links", "removed")):
        links = change[key]
        if links:
            names = ", ".join(_link_name(link) for link in links[:3])
            more = f" and {len(links) - 3} more" if len(links) > 3 else ""
            parts.append(f"{len(links)} document{'s' if len(links) != 1 else ''} {verb}: {names}{more}")
    if change["text_changed"]:
        parts.append(f"text changed (+{change['lines_added']}/-{change['lines_removed']} lines)")
    return "; ".join(parts)


def _main_content(soup: BeautifulSoup, selector: str | None) -> Tag:
    if selector:
        from soupsieve import SelectorSyntaxError   # loaded by bs4 with the soup already

        try:
            found = soup.select_one(selector)
        except SelectorSyntaxError as err:
            raise PageError(f"selector {selector!r} is not valid CSS: {str(err).splitlines()[0]}") from None
        if found is None:
            raise PageError(f"selector {selector!r} matches nothing on the page (page redesigned?)")
        return found
    for candidate in _AUTO_MAIN:
        found = soup.select_one(candidate)
        if found is not None:
            return found
    body = soup.body or soup
    for tag in body.select(", ".join(_CHROME)):
        tag.decompose()
    return body


def _document_links(content: Tag, base: str) -> list[dict]:
    found: dict[str, dict] = {}
    for anchor in content.find_all("a", href=True):
        url = absolute_url(base, anchor["href"])
        if url is None:
            continue
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lower()
        if path.endswith(DOCUMENT_SUFFIXES) and url not in found:
            found[url] = {"url": url, "text": norm.clean_text(anchor.get_text(" "))}
    return [found[url] for url in sorted(found)]


def _text_diff(old_lines: list[str], new_lines: list[str]) -> dict:
    added, removed, quoted = 0, 0, []
    for line in difflib.unified_diff(old_lines, new_lines, lineterm="", n=0):
        if line.startswith(("+++", "---", "@@")):
            continue
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
        if len(quoted) < _SUMMARY_CHANGES:
            text = line[1:]
            if len(text) > _SUMMARY_LINE_CHARS:
                text = text[: _SUMMARY_LINE_CHARS - 1] + "…"
            quoted.append(f"{line[0]} {text}")
    return {"lines_added": added, "lines_removed": removed, "text_diff": quoted}


def _link_name(link: dict) -> str:
    name = urllib.parse.unquote(urllib.parse.urlsplit(link["url"]).path.rsplit("/", 1)[-1])
    return f"{link['text']} ({name})" if link["text"] and link["text"] != name else name
