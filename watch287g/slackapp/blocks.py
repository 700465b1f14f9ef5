"""What the Slack app shows: replies to ``/287g``, the App Home and the
subscribe form, as Block Kit.

Every value a person typed or ICE wrote goes through ``escape`` (Slack's
&, <, >), so a county name cannot mention @channel or forge a link; user and
channel IDs are ours to wrap in <@U…> / <#C…>, after they passed the ID
pattern. Headers carry only our own words.
"""

from __future__ import annotations

from watch287g.alerts.describe import SHORT_VERBS, describe, when
from watch287g.alerts.render_slack import (
    context_block,
    entry,
    escape,
    header_block,
    mrkdwn,
    section_block,
    summary_line,
)
from watch287g.alerts.subscriptions import ACTIVE, PAUSED, Filter, Subscription, state_name
from watch287g.check_runner import BUSY, OK, CheckOutcome
from watch287g.core import events as ev
from watch287g.report import CODE_OF_MODEL

COMMAND = "/287g"
HOME_SUBSCRIPTIONS = 20     # per list on the App Home: 2 blocks each, and a view holds 100
LATEST_EVENTS = 10
_CADENCE_WORDS = {"instant": "as they happen", "daily": "in a daily digest", "weekly": "in a weekly digest"}
HELP = f"""*{COMMAND}* watches ICE's 287(g) agreement lists for this channel.
• `{COMMAND} subscribe FL signed terminated` — alerts here for those states and event types \
(also models `JEM` `TFM` `WSO`, `county NAME`, `agency TEXT`, `daily` or `weekly`); \
`{COMMAND} subscribe` alone opens a form
• `{COMMAND} list` — this channel's subscriptions
• `{COMMAND} unsubscribe s3` — stop one (`all`: every one of this channel's)
• `{COMMAND} check` — check ICE's lists now and post the result here
• `{COMMAND} status` — the last good lists, the last check, source health, pending alerts
• `{COMMAND} latest FL` — the last {LATEST_EVENTS} events for a state
Event types: {", ".join(f"`{t.split('.', 1)[1]}`" for t in ev.SUBSCRIBER_TYPES)} \
(default: all but `corrected`)."""


def fallback(shown: list[dict]) -> str:
    """The notification text of a reply: its first section's words."""
    for block in shown:
        text = (block.get("text") or {}).get("text")
        if block.get("type") == "section" and text:
            return text
    return "287(g) watch"


# --- subscriptions ----------------------------------------------------------


def filter_fields(filter_: Filter, cadence: str) -> list[tuple[str, str]]:
    """A subscription's filter in words, as (label, escaped mrkdwn) pairs."""
    where = ", ".join(state_name(code) for code in filter_.states) or "every state"
    if filter_.counties:
        where += " · counties: " + ", ".join(filter_.counties)
    if set(filter_.types) == set(ev.DEFAULT_SUBSCRIBED_TYPES):
        what = "every change but corrections"
    else:
        what = ", ".join(SHORT_VERBS.get(t, t) for t in filter_.types)
    models = ", ".join(CODE_OF_MODEL.get(m, m) for m in filter_.models) or "all"
    fields = [("Events", what), ("Where", where), ("Models", models), ("When", _CADENCE_WORDS[cadence])]
    if filter_.agency_contains:
        fields.append(("Agency name contains", f"“{filter_.agency_contains}”"))
    return [(label, escape(value)) for label, value in fields]


def _fields_section(pairs: list[tuple[str, str]]) -> dict:
    return {"type": "section", "fields": [mrkdwn(f"*{label}*\n{value}") for label, value in pairs]}


def subscription_line(subscription: Subscription, with_channel: bool = False) -> str:
    """One line of mrkdwn: id, status, filter, who made it."""
    status = "" if subscription.status == ACTIVE else f" _({subscription.status})_"
    channel = f"<#{subscription.destination.split(':', 1)[1]}> · " if with_channel else ""
    made = subscription.history[0] if subscription.history else None
    by = made.by.split(":", 1)[1] if made and made.by.startswith("slack:") else None
    origin = f" · by <@{by}>" if by else (f" · by {escape(made.by)}" if made else "")
    summary = " · ".join(value if label in ("Events", "Where") else f"{label.lower()} {value}"
                         for label, value in filter_fields(subscription.filter, subscription.cadence)
                         if label != "When" and (label, value) != ("Models", "all"))
    return f"{channel}*{subscription.id}*{status}: {summary}, {_CADENCE_WORDS[subscription.cadence]}{origin}"


def subscribed(subscription: Subscription) -> list[dict]:
    return [
        section_block(f"Subscribed this channel (*{subscription.id}*). Alerts for what ICE posts from now on "
                      "will appear here:"),
        _fields_section(filter_fields(subscription.filter, subscription.cadence)),
        context_block(f"`{COMMAND} unsubscribe {subscription.id}` stops it · `{COMMAND} list` shows this "
                      "channel's subscriptions · pause it from the app's Home tab"),
    ]


def channel_list(subscriptions: list[Subscription]) -> list[dict]:
    if not subscriptions:
        return [section_block(f"This channel has no subscriptions. `{COMMAND} subscribe FL signed` makes one; "
                              f"`{COMMAND} help` says more.")]
    return [section_block(f"This channel's subscriptions ({len(subscriptions)}):"),
            *(section_block(subscription_line(s)) for s in subscriptions)]


# --- status, latest, check -------------------------------------------------


def status(report: dict, service: dict) -> list[dict]:
    """``/287g status``: lists, checks, health, outbox (report.status_report
    and service_status.status_section)."""
    lines = []
    for entry_ in report["lists"]:
        good = entry_["last_good"]
        seen = f"last good {when(good['observed_at'])}: {escape(good['file_name'] or 'table')}, " \
               f"{good['rows']} rows" if good else "no good list yet"
        lines.append(f"• *{escape(entry_['source'])} {entry_['kind']}*: {seen}")
        latest = entry_["latest"]
        if latest and latest["verdict"] == "quarantined":
            lines.append(f"   ⚠️ newest list quarantined: {escape(latest['reason'] or '')}")
    if not lines:
        lines.append("• no list has been read yet")
    agreements = report["agreements"]
    lines.append(f"• {agreements['listed']} agreements listed, {agreements['terminated']} terminated, "
                 f"{report['pending']['listed']} pending applications")
    health = []
    for source in service["sources"]:
        check = source["last_check"]
        result = "never checked" if not check else (
            f"last check {when(check['finished_at'])}: "
            + ("ok" if check["ok"] else f"FAILED: {escape(check['message'] or '')}"))
        health.append(f"• *{escape(source['source'])}*: {result}")
        streak = source["failure_streak"]
        if streak.get("failures"):
            health.append(f"   failing: {streak['failures']} checks in a row since {when(streak['since'])}")
        for kind, flag in source["stale"].items():
            health.append(f"   stale: no new {kind} list since {when(flag['since'])}")
    running = service["service"]
    health.append("• service: " + (f"running since {when(running['started_at'])}" if running["running"]
                                   else "not running"))
    waiting = sum(row["records"] for row in service["outbox"].get("waiting", []))
    failing = [row for row in service["outbox"].get("waiting", []) if row.get("failing_since")]
    outbox = f"• {waiting} alerts waiting to be delivered"
    if failing:
        outbox += f"; {len(failing)} destinations failing"
    return [header_block("287(g) watch: status"), section_block("*Lists*\n" + "\n".join(lines)),
            section_block("*Checks and health*\n" + "\n".join(health)), section_block("*Delivery*\n" + outbox)]


def latest(events: list[dict], state: str | None) -> list[dict]:
    where = state_name(state) if state else "all states"
    if not events:
        return [section_block(f"No events recorded for {escape(where)} yet.")]
    return [section_block(f"*The last {len(events)} events for {escape(where)}* (newest first):"),
            *(entry(describe(event)) for event in reversed(events))]


def check_answer(answer: str, every_minutes: float) -> str:
    """The immediate reply to ``/287g check`` (see Service.check_now)."""
    floor = (f" A list checked in the last {every_minutes:g} minutes is not checked again: its result stands."
             if every_minutes else "")
    return {
        "queued": f"Checking ICE's lists now; the result will be posted in this channel.{floor}",
        "behind": "A check is running right now: its result will be posted in this channel when it ends "
                  "(no second check).",
        "joined": "A check is already waiting to run; its result will be posted in this channel too.",
        "stopping": "The watch287g service is shutting down; nothing was checked. Try again in a minute.",
    }[answer]


def check_result(outcomes: list[CheckOutcome], user: str) -> tuple[str, list[dict]]:
    """(notification text, blocks) for the channel when a check has ended.
    Counts only, no agency: the details reach the channels subscribed to them."""
    if not outcomes:
        text = "The check did not run: the watch287g service stopped first."
        return text, [section_block(text)]
    lines = [_outcome_line(outcome) for outcome in outcomes]
    changed = [e for o in outcomes for e in o.events if not ev.is_operator_event(e)]
    head = (f"New on ICE's lists: {summary_line([describe(e) for e in changed])}" if changed
            else "No change on ICE's lists.")
    blocks = [section_block(f"*{escape(head)}*"), section_block("\n".join(lines)),
              context_block(f"Asked for by <@{user}> · `{COMMAND} latest STATE` lists recent events · "
                            "alerts go to the channels subscribed to them")]
    return head, blocks


def _outcome_line(outcome: CheckOutcome) -> str:
    name = f"*{escape(outcome.source)}*"
    message = escape(outcome.message or "")
    if outcome.reused:
        return f"• {name}: checked {when(outcome.started_at)} (recent enough: not repeated): {message}"
    if outcome.status == OK:
        return f"• {name}: checked {when(outcome.finished_at)}: {message}"
    if outcome.status == BUSY:
        return f"• {name}: another check (started on the server) was running; try again shortly"
    return f"• {name}: ⚠️ the check failed ({outcome.status}): {message}"


# --- App Home --------------------------------------------------------------


def home(mine: list[Subscription], others: list[Subscription] | None, report: dict, service: dict,
         notice: str | None = None) -> dict:
    """The Home tab: subscriptions of the user's channels (and, for admins,
    every other channel's), each with its buttons, then status. ``notice``:
    why the last button press changed nothing."""
    blocks = [header_block("287(g) watch")]
    if notice:
        blocks.append(context_block(f"⚠️ {escape(notice)}"))
    blocks.append(section_block(f"*Subscriptions of the channels you are in ({len(mine)})*"))
    blocks += _home_list(mine, "none yet: type `/287g subscribe FL signed` in a channel")
    if others is not None:
        blocks += [{"type": "divider"}, section_block(f"*Other channels' subscriptions ({len(others)})*")]
        blocks += _home_list(others, "none")
    blocks += [{"type": "divider"}, *status(report, service)[1:]]
    return {"type": "home", "blocks": blocks}


def _home_list(subscriptions: list[Subscription], empty: str) -> list[dict]:
    if not subscriptions:
        return [context_block(empty)]
    blocks = [block for s in subscriptions[:HOME_SUBSCRIPTIONS] for block in _home_item(s)]
    if len(subscriptions) > HOME_SUBSCRIPTIONS:
        blocks.append(context_block(f"…and {len(subscriptions) - HOME_SUBSCRIPTIONS} more "
                                    "(`watch287g subscriptions` on the server lists them all)"))
    return blocks


def _home_item(subscription: Subscription) -> list[dict]:
    """The subscription's line, then its buttons (pause or resume, remove)."""
    toggle = ("Resume", "subscription.resume") if subscription.status == PAUSED else ("Pause", "subscription.pause")
    remove = {"type": "button", "text": _plain("Remove"), "style": "danger",
              "action_id": "subscription.remove", "value": subscription.id,
              "confirm": {"title": _plain("Remove this subscription?"),
                          "text": _plain(f"{subscription.id} stops for good; its history is kept."),
                          "confirm": _plain("Remove"), "deny": _plain("Keep it")}}
    return [{"type": "section", "block_id": f"subscription:{subscription.id}",
             "text": mrkdwn(subscription_line(subscription, with_channel=True))},
            {"type": "actions", "block_id": f"actions:{subscription.id}",
             "elements": [{"type": "button", "text": _plain(toggle[0]), "action_id": toggle[1],
                           "value": subscription.id}, remove]}]


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}
