"""E-mail for one delivery batch: multipart text + HTML, grouped by state.

Scraped text reaches a header only through ``header_text`` (control
characters and line breaks removed, length capped), and the message uses the
strict SMTP policy, which refuses any header value with CR or LF, so an
agency name like "X\\r\\nBcc: victim@example.com" can never add a header. In
the HTML part everything scraped is escaped.

The same batch renders to the same bytes (Date from the batch time, Message-ID
and MIME boundary from its token): a resend after a crash is an identical
copy that mail systems collapse by Message-ID.
"""

from __future__ import annotations

import datetime as dt
import html
import unicodedata
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from watch287g.alerts.describe import SHORT_VERBS, EventView, describe, shorten
from watch287g.alerts.links import MailLinks
from watch287g.alerts.render_slack import summary_line, title
from watch287g.alerts.settings import EmailSettings
from watch287g.alerts.subscriptions import Subscription, state_name
from watch287g.core import events as ev

SUBJECT_LIMIT = 150
# SMTP's strict policy, with headers folded only past RFC 5322's hard limit:
# the default 78 makes Python fold a long Subject right after its colon.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def header_text(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """Text safe for a header: no control/format characters or line
    separators, whitespace folded, at most ``limit`` characters, cut
    between words."""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    return shorten(" ".join(kept.split()), limit)


def message_id(token: str, settings: EmailSettings) -> str:
    return f"<watch287g.{token}@{settings.message_id_domain}>"


def _group(views: list[EventView]) -> list[tuple[str, list[EventView]]]:
    groups: dict[str, list[EventView]] = {}
    for view in sorted(views, key=lambda v: (v.state is None, state_name(v.state) if v.state else "", v.event_id)):
        label = state_name(view.state) if view.state else "Operator and other alerts"
        groups.setdefault(label, []).append(view)
    return list(groups.items())


def subject(views: list[EventView], cadence: str, batch_at: dt.datetime) -> str:
    if cadence in ("daily", "weekly"):
        states = len({v.state for v in views if v.state})
        text = f"{title(len(views), cadence)} in {states} state{'s' if states != 1 else ''} (sent {batch_at:%Y-%m-%d})"
    elif len(views) == 1:
        text = f"287(g): {views[0].headline}"
    else:
        text = f"{title(len(views), cadence)} — {summary_line(views)}"
    return header_text(text)


def render_email(events: list[dict], footer: list[str], cadence: str, to: str, token: str,
                 batch_at: dt.datetime, settings: EmailSettings, links: MailLinks | None = None) -> EmailMessage:
    """``footer``: why the reader gets this mail and how to stop it
    (``footer_lines``); ``links``: the web app's signed links
    (alerts/links.py), when it is published."""
    views = [describe(e) for e in events]
    groups = _group(views)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = formataddr((header_text(settings.from_name, 64), settings.from_address))
    message["To"] = to
    message["Subject"] = subject(views, cadence, batch_at)
    message["Date"] = format_datetime(batch_at.astimezone(dt.timezone.utc))
    message["Message-ID"] = message_id(token, settings)
    if links:   # RFC 8058: a POST to this address unsubscribes, no login, no confirmation page
        message["List-Unsubscribe"] = f"<{links.unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        message["List-Unsubscribe"] = f"<{settings.unsubscribe_target}>"
    message["Auto-Submitted"] = "auto-generated"
    footer_links = links.footer if links else ()
    message.set_content(_text_body(views, groups, footer, cadence, footer_links))
    message.add_alternative(_html_body(views, groups, footer, cadence, footer_links), subtype="html")
    message.set_boundary(f"==watch287g-{token}==")
    return message


def _intro(views: list[EventView], cadence: str) -> str:
    return f"{title(len(views), cadence)} — {summary_line(views)}"


def footer_lines(subscriptions: list[Subscription], operator: bool, settings: EmailSettings,
                 linked: set[str] = frozenset()) -> list[str]:
    """Why the reader gets this e-mail and how to stop it, one line per
    subscription. The reader cannot run watch287g, so they are told whom to
    ask: the sender address, when it is a real one; or, for the ``linked``
    subscriptions, the web app's links that the mail carries."""
    contact = settings.from_address if settings.message_id_domain not in ("localhost", "localhost.localdomain") \
        else None
    ask = f"write to {contact} and ask" if contact else "ask whoever set up these alerts for you"
    links = "To pause or stop it, use its links below."
    lines = [f"You get this e-mail for subscription {_subscription_name(sub)} ({_subscription_words(sub)}). "
             + (links if sub.id in linked else f"To stop it, {ask} to cancel it.") for sub in subscriptions]
    if operator:
        lines.append("You get operator alerts because this address is in the [operator] section of "
                     "watch287g's config file; to stop them, remove it there.")
    return lines


def _subscription_name(subscription: Subscription) -> str:
    return repr(subscription.name) if subscription.from_config else subscription.id


def _subscription_words(subscription: Subscription) -> str:
    """"daily: Florida, Texas; Task Force Model; signed" for a reader."""
    chosen = subscription.filter
    parts = [subscription.cadence]
    if chosen.states:
        parts.append(", ".join(state_name(s) for s in chosen.states))
    if chosen.counties:
        parts.append("counties " + ", ".join(chosen.counties))
    if chosen.agency_contains:
        parts.append(f"agencies named like {chosen.agency_contains!r}")
    if chosen.models:
        parts.append(", ".join(chosen.models))
    if set(chosen.types) != set(ev.DEFAULT_SUBSCRIBED_TYPES):
        parts.append(", ".join(SHORT_VERBS.get(t, t) for t in chosen.types))
    return f"{parts[0]}: {'; '.join(parts[1:])}" if len(parts) > 1 else f"{parts[0]}: every change"


def _text_body(views: list[EventView], groups, footer: list[str], cadence: str, links) -> str:
    lines = [_intro(views, cadence), ""]
    for label, members in groups:
        heading = f"{label.upper()} ({len(members)})"
        lines += [heading, "-" * len(heading)]
        for view in members:
            lines.append(f"* {view.headline}")
            facts = " · ".join(f"{name}: {value}" for name, value in view.fields)
            if facts:
                lines.append(f"  {facts}")
            lines += [f"  {label_}: {url}" for label_, url in view.links]
            if view.evidence:
                lines.append(f"  Evidence: {view.evidence}")
            lines.append("")
    lines += ["-- ", *footer, *(f"{label}: {url}" for label, url in links)]
    return "\n".join(lines) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_body(views: list[EventView], groups, footer: list[str], cadence: str, links) -> str:
    parts = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width\"></head>"
             "<body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;"
             "max-width:680px;margin:0 auto;padding:16px;line-height:1.45\">",
             f"<h1 style=\"font-size:20px;margin:0 0 4px\">{_e(title(len(views), cadence))}</h1>",
             f"<p style=\"color:#57606a;margin:0 0 16px\">{_e(summary_line(views))}</p>"]
    for label, members in groups:
        parts.append(f"<h2 style=\"font-size:16px;border-bottom:1px solid #d0d7de;padding-bottom:4px;"
                     f"margin:20px 0 8px\">{_e(label)} <span style=\"color:#57606a;font-weight:normal\">"
                     f"({len(members)})</span></h2>")
        for view in members:
            parts.append(_html_item(view))
    parts.append("<hr style=\"border:0;border-top:1px solid #d0d7de;margin-top:24px\">"
                 "<p style=\"font-size:12px;color:#57606a\">")
    parts.append("<br>".join([*(_e(line.strip()) for line in footer),
                              *(f"<a href=\"{_e(url)}\">{_e(label)}</a>" for label, url in links)]))
    parts.append("</p></body></html>")
    return "".join(parts)


def _html_item(view: EventView) -> str:
    facts = " · ".join(f"<b>{_e(name)}:</b> {_e(value)}" for name, value in view.fields)
    links = " · ".join(f"<a href=\"{_e(url)}\">{_e(label)}</a>" for label, url in view.links)
    item = [f"<div style=\"margin:0 0 14px\"><div style=\"font-weight:600\">{_e(view.headline)}</div>"]
    if facts:
        item.append(f"<div style=\"font-size:14px\">{facts}</div>")
    if links:
        item.append(f"<div style=\"font-size:14px\">{links}</div>")
    if view.evidence:
        item.append(f"<div style=\"font-size:12px;color:#57606a\">Evidence: {_e(view.evidence)}</div>")
    item.append("</div>")
    return "".join(item)
