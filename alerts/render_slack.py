"""Block Kit messages for one delivery batch, laid out for a phone.

A few events: full cards at the top level. More: one summary message, with
the events in threaded replies (bot token) or in attachments of the same
message (incoming webhooks, which cannot thread), several events per reply.
A burst (ICE once added 64 agreements in one list) is therefore one
top-level post, not 64.

Scraped text is never markup. It appears only in mrkdwn text objects marked
``verbatim`` (Slack then auto-links no bare URL, channel name or @mention)
and passes ``escape``: &, < and > as entities (so no ``<!channel>``,
``<@U123>`` or ``<url|label>``), and the characters that could open or close
bold, italics, strike-through or code (``*bold*``, ``_x_``, ``~x~``,
```x```), for which mrkdwn has no escape, swapped for look-alikes. Header
blocks carry only our own words (counts, cadence). Links are built only from
URLs that passed ``describe.safe_url`` and carry our labels.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from watch287g.alerts.describe import SHORT_VERBS, EventView, describe, shorten
from watch287g.alerts.settings import SlackSettings
from watch287g.alerts.subscriptions import state_name

MAX_BLOCKS = 50             # Block Kit: blocks per message
SECTION_TEXT = 3000         # Block Kit: characters in a section's text
HEADER_TEXT = 150           # Block Kit: characters in a header's plain_text
FIELD_TEXT = 2000           # Block Kit: characters in one section field
MAX_FIELDS = 10             # Block Kit: fields per section
FALLBACK_TEXT = 3000        # our cap on the notification text
WEBHOOK_MESSAGE_CHARS = 30000   # well under Slack's 40,000 characters per message
_PLAIN_FIELD = 300          # scraped values are cut to this before escaping


@dataclass
class SlackMessage:
    text: str                       # notification / fallback text (escaped mrkdwn)
    blocks: list[dict]
    event_ids: list[int]            # the events this message delivers
    attachments: list[dict] = field(default_factory=list)
    in_thread: bool = False         # a reply under the batch's first message


# A formatting character counts only at a word's edge (Slack reads "a_b" and
# "2*3" as text): there it becomes a look-alike that Slack does not read.
_FORMAT_MARK = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
_LOOK_ALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}   # ∗ ˍ ∼ ˋ
_QUOTE_MARK = "\u203a"      # › for a leading ">", which would start a block quote


def escape(text: object) -> str:
    """Plain text for mrkdwn, shown as written: Slack's three control
    characters as entities, formatting characters as look-alikes."""
    text = _FORMAT_MARK.sub(lambda mark: _LOOK_ALIKES[mark.group()], str(text))
    if text.startswith(">"):
        text = _QUOTE_MARK + text[1:]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """Cut escaped mrkdwn to a length without splitting an entity or a link."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def link(url: str, label: str) -> str:
    # url has passed safe_url (no <, >, |); the label is ours, escaped anyway.
    return f"<{url}|{escape(label)}>"


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section_block(text: str) -> dict:
    return {"type": "section", "text": mrkdwn(fit(text, SECTION_TEXT))}


def context_block(text: str) -> dict:
    return {"type": "context", "elements": [mrkdwn(fit(text, SECTION_TEXT))]}


def header_block(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": shorten(text, HEADER_TEXT), "emoji": False}}


def _links(view: EventView) -> str:
    return "  ·  ".join(link(url, label) for label, url in view.links)


def card(view: EventView) -> list[dict]:
    """One event in full: headline, key fields, links, evidence."""
    blocks = [section_block(f"*{escape(shorten(view.headline, _PLAIN_FIELD))}*")]
    fields = [mrkdwn(fit(f"*{escape(label)}*\n{escape(shorten(value, _PLAIN_FIELD))}", FIELD_TEXT))
              for label, value in view.fields[:MAX_FIELDS]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if view.links:
        blocks.append(section_block(_links(view)))
    if view.evidence:
        blocks.append(context_block(f"Evidence: {escape(view.evidence)}"))
    return blocks


def compact_facts(view: EventView) -> list[str]:
    """Fields for one line: the county reads on its own, the agency type is
    left out, the rest keep their label."""
    return [value if label == "County" else f"{label}: {value}"
            for label, value in view.fields if label != "Agency type"]


def entry(view: EventView) -> dict:
    """One event in a single section: for threads and webhook attachments."""
    lines = [f"*{escape(shorten(view.headline, _PLAIN_FIELD))}*"]
    detail = " · ".join(escape(shorten(fact, _PLAIN_FIELD)) for fact in compact_facts(view))
    if view.links:
        detail = f"{detail} · {_links(view)}" if detail else _links(view)
    if detail:
        lines.append(detail)
    if view.evidence:
        lines.append(f"_Evidence: {escape(view.evidence)}_")
    return section_block("\n".join(lines))


def _state_label(state: str | None) -> str:
    return state_name(state) if state else "Operator and other alerts"


def _ordered(events: list[dict]) -> list[EventView]:
    views = [describe(e) for e in events]
    return sorted(views, key=lambda v: (v.state is None, _state_label(v.state), v.event_id))


def summary_line(views: list[EventView]) -> str:
    """"64 signed, 2 terminated (FL 40, TX 26)" (plain text)."""
    by_type = Counter(SHORT_VERBS.get(v.type, "other") for v in views)
    by_state = Counter(v.state for v in views if v.state)
    kinds = ", ".join(f"{n} {t}" for t, n in by_type.most_common())
    states = ", ".join(f"{s} {n}" for s, n in by_state.most_common())
    return f"{kinds} ({states})" if states else kinds


def title(count: int, cadence: str) -> str:
    changes = f"{count} change{'s' if count != 1 else ''}"
    return f"287(g) {cadence} digest: {changes}" if cadence in ("daily", "weekly") else f"287(g): {changes}"


def render_batch(events: list[dict], cadence: str, settings: SlackSettings, *, can_thread: bool) -> list[SlackMessage]:
    """The messages for one destination's batch, in posting order."""
    views = _ordered(events)
    if len(views) <= settings.inline_events and cadence == "instant":
        return [_cards_message(views)]
    summary = _summary_blocks(views, cadence, in_thread=can_thread)
    text = escape(f"{title(len(views), cadence)} — {summary_line(views)}")
    groups = _entry_groups(views, settings.events_per_reply)
    if can_thread:
        replies = [SlackMessage(text=escape(f"{title(len(views), cadence)} (details {i + 1}/{len(groups)})"),
                                blocks=blocks, event_ids=ids, in_thread=True)
                   for i, (blocks, ids) in enumerate(groups)]
        return [SlackMessage(text=fit(text, FALLBACK_TEXT), blocks=summary, event_ids=[]), *replies]
    return _webhook_messages(summary, fit(text, FALLBACK_TEXT), groups, title(len(views), cadence))


def _cards_message(views: list[EventView]) -> SlackMessage:
    blocks: list[dict] = []
    for view in views:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(card(view))
    text = "\n".join(escape(v.headline) for v in views)
    return SlackMessage(text=fit(text, FALLBACK_TEXT), blocks=blocks, event_ids=[v.event_id for v in views])


def _summary_blocks(views: list[EventView], cadence: str, in_thread: bool) -> list[dict]:
    by_type = Counter(SHORT_VERBS.get(v.type, "other") for v in views)
    by_state = Counter(_state_label(v.state) for v in views)
    kinds = "  ·  ".join(f"*{n}* {escape(t)}" for t, n in by_type.most_common())
    states = "  ·  ".join(f"{escape(s)} {n}" for s, n in sorted(by_state.items()))
    where = "Details in the thread ↓" if in_thread else "Details below ↓"
    return [header_block(title(len(views), cadence)), section_block(f"{kinds}\n{states}"), context_block(where)]


def _entry_groups(views: list[EventView], per_group: int) -> list[tuple[list[dict], list[int]]]:
    """Events in runs of per_group, each run headed by its state(s)."""
    groups = []
    for start in range(0, len(views), per_group):
        run = views[start:start + per_group]
        blocks, shown_state = [], object()
        for view in run:
            if view.state != shown_state:
                blocks.append(section_block(f"*{escape(_state_label(view.state))}*"))
                shown_state = view.state
            blocks.append(entry(view))
        groups.append((blocks, [v.event_id for v in run]))
    return groups


def _merge_sections(blocks: list[dict]) -> list[dict]:
    """Neighbouring text sections joined (blank line between) while they fit
    one section: a webhook message then holds far more events in 50 blocks."""
    merged: list[dict] = []
    for block in blocks:
        last = merged[-1] if merged else None
        if (last is not None and "text" in last and "text" in block and block["type"] == last["type"] == "section"
                and len(last["text"]["text"]) + 2 + len(block["text"]["text"]) <= SECTION_TEXT):
            merged[-1] = section_block(f"{last['text']['text']}\n\n{block['text']['text']}")
        else:
            merged.append(block)
    return merged


def _webhook_messages(summary: list[dict], text: str, groups: list[tuple[list[dict], list[int]]],
                      heading: str) -> list[SlackMessage]:
    """Webhooks cannot thread: the details ride in attachments of the summary
    message, continued in as few further messages as Block Kit's limits allow."""
    messages: list[SlackMessage] = []
    current = SlackMessage(text=text, blocks=summary, event_ids=[])
    for blocks, ids in groups:
        used = len(current.blocks) + sum(len(a["blocks"]) for a in current.attachments)
        chars = sum(len(str(b)) for b in current.blocks) + sum(len(str(a)) for a in current.attachments)
        if current.attachments and (used + len(_merge_sections(blocks)) > MAX_BLOCKS
                                    or chars + len(str(blocks)) > WEBHOOK_MESSAGE_CHARS):
            messages.append(current)
            current = SlackMessage(text="", blocks=[context_block("")], event_ids=[])  # label set below
        current.attachments.append({"color": "#1d4ed8", "blocks": _merge_sections(blocks)})
        current.event_ids.extend(ids)
    messages.append(current)
    for number, message in enumerate(messages[1:], start=2):
        label = escape(f"{heading} (continued, {number}/{len(messages)})")
        message.text = label
        message.blocks[0] = context_block(label)
    return messages
