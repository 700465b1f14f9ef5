"""What Slack shows for a Block Kit text object: enough of its mrkdwn rules
to tell plain text from formatting, links and mentions.

Slack's rules (docs.slack.dev, "Formatting text for app surfaces"):
* ``plain_text`` is shown as written;
* in ``mrkdwn``, ``<...>`` is a link (``<url>``, ``<url|label>``), a user
  mention (``<@U123>``), a channel link (``<#C123>``), a broadcast
  (``<!channel>``, ``<!here>``, ``<!everyone>``) or a group mention
  (``<!subteam^ID>``); then ``&lt;``, ``&gt;`` and ``&amp;`` are decoded;
* ``*bold*``, ``_italic_``, ``~strike~`` and ```code``` format the text
  between two markers that sit at word edges, hugging non-space text;
  a line starting with ``>`` is a block quote;
* unless the object is ``verbatim``, bare URLs become links, ``#name``
  becomes a channel link and ``@here``/``@channel``/``@everyone`` mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"<([^<>]*)>")
_STYLES = {"*": "bold", "_": "italic", "~": "strike", "`": "code"}
_STYLED = re.compile(r"(?<![^\W_])([*_~`])(?=\S)(.+?)(?<=\S)\1(?![^\W_])")
_BARE_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>]+")
_BARE_MENTION = re.compile(r"(?<![\w@])@(here|channel|everyone)\b")
_BARE_CHANNEL = re.compile(r"(?<![\w&#])#[a-z0-9][a-z0-9_-]*")
_BROADCASTS = {"!here": "@here", "!channel": "@channel", "!everyone": "@everyone"}


@dataclass
class Shown:
    text: str = ""                                          # what a reader sees, markers removed
    links: list[tuple[str, str]] = field(default_factory=list)       # (url, label shown)
    mentions: list[str] = field(default_factory=list)                # @channel, @U123, #C123...
    styled: list[tuple[str, str]] = field(default_factory=list)      # (bold/italic/strike/code/quote, text)


def render(text_object: dict) -> Shown:
    if text_object["type"] == "plain_text":
        return Shown(text=text_object["text"])
    shown = Shown()
    parts = []
    last = 0
    for token in _TOKEN.finditer(text_object["text"]):
        parts.append(_decode(text_object["text"][last:token.start()]))
        parts.append(_manual(token.group(1), shown))
        last = token.end()
    parts.append(_decode(text_object["text"][last:]))
    text = "".join(parts)
    for line in text.split("\n"):
        if line.startswith(">"):
            shown.styled.append(("quote", line[1:].strip()))
    for match in _STYLED.finditer(text):
        shown.styled.append((_STYLES[match.group(1)], match.group(2)))
    if not text_object.get("verbatim"):
        shown.links += [(url, url) for url in _BARE_URL.findall(text)]
        shown.mentions += ["@" + name for name in _BARE_MENTION.findall(text)]
        shown.mentions += _BARE_CHANNEL.findall(text)
    shown.text = _STYLED.sub(r"\2", text)
    return shown


def _decode(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _manual(inner: str, shown: Shown) -> str:
    target, _, label = inner.partition("|")
    if target.startswith(("http://", "https://", "mailto:")):
        shown.links.append((target, _decode(label or target)))
        return _decode(label or target)
    if target.startswith(("@", "#")):
        shown.mentions.append(target)
        return target
    if target in _BROADCASTS or target.startswith("!subteam^"):
        shown.mentions.append(_BROADCASTS.get(target, target))
        return shown.mentions[-1]
    return f"<{_decode(inner)}>"


def text_objects(message: dict) -> list[dict]:
    """Every text object of a posted message: block texts, section fields,
    context elements, attachments' blocks (the ``text`` fallback excluded:
    Slack shows it only in notifications)."""
    blocks = list(message.get("blocks") or [])
    for attachment in message.get("attachments") or []:
        blocks += attachment.get("blocks", [])
    found = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"])
        found += block.get("fields", [])
        found += [e for e in block.get("elements", []) if "text" in e]
    return found
