"""``/287g``: the text after the command, read into one request.

Pure text in, a ``Request`` out, or a ``CommandError`` whose message is the
one line the person sees. Nothing here talks to Slack or the store, so a
refused command can never have changed anything.

``subscribe`` reads words in any order, the way a person types them:
states (``FL``, ``Florida``, ``New York``), models (``TFM``, ``Task Force
Model``), event types (``signed``, ``terminated``, ``pending.added``),
``county NAME`` (repeatable; the name runs to the next word that is
something else, or quote it), ``agency TEXT`` and a cadence (``daily``,
``weekly``; default instant). Each word is checked by the same validators as
``watch287g subscribe`` (alerts.subscriptions.make_filter).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from watch287g.alerts.subscriptions import CADENCES, Filter, SubscriptionError, make_filter
from watch287g.core import events as ev

SUBCOMMANDS = ("subscribe", "unsubscribe", "list", "check", "status", "latest", "help")
_LONGEST_NAME = 3            # words in the longest state or model name ("Task Force Model")
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_KEYWORDS = ("county", "agency")


class CommandError(ValueError):
    """What the person typed cannot be done; str() is the reply."""


@dataclass(frozen=True)
class Request:
    action: str                             # one of SUBCOMMANDS
    filter: Filter | None = None            # subscribe
    cadence: str = "instant"                # subscribe
    target: str | None = None               # unsubscribe: id, name or "all"; latest: state code
    bare: bool = False                      # subscribe with no words: open the form


def parse(text: str) -> Request:
    words = _split(text)
    if not words:
        return Request("help")
    action, rest = words[0].lower(), words[1:]
    if action not in SUBCOMMANDS:
        raise CommandError(f"I don't know `{_shown(words[0])}`. Try `/287g help` "
                           f"({', '.join(SUBCOMMANDS)}).")
    if action == "subscribe":
        return _subscribe(rest)
    if action == "unsubscribe":
        if len(rest) > 1:
            raise CommandError("`/287g unsubscribe` takes one subscription id or name (see `/287g list`), "
                               "or `all`.")
        return Request("unsubscribe", target=rest[0] if rest else None)
    if action == "latest":
        return Request("latest", target=_one_state(rest) if rest else None)
    if rest:
        raise CommandError(f"`/287g {action}` takes no words after it (got `{_shown(' '.join(rest))}`).")
    return Request(action)


def _split(text: str) -> list[str]:
    text = (text or "").translate(_SMART_QUOTES).strip()
    try:
        return shlex.split(text)
    except ValueError:
        raise CommandError("a quote is not closed; write `county \"St. Lucie\"` or leave the quotes out") from None


def _shown(text: str) -> str:
    """A person's word echoed back inside `code`: short, no backticks."""
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"


def _subscribe(words: list[str]) -> Request:
    if not words:
        return Request("subscribe", bare=True)
    states: list[str] = []
    models: list[str] = []
    types: list[str] = []
    counties: list[str] = []
    agency: list[str] = []
    cadence = "instant"
    index = 0
    while index < len(words):
        word = words[index]
        lowered = word.lower()
        if lowered in _KEYWORDS:
            taken = _name_after(words, index + 1)
            if not taken:
                raise CommandError(f"`{lowered}` needs a name after it, e.g. `{lowered} Polk`.")
            (counties if lowered == "county" else agency).append(" ".join(taken))
            index += 1 + len(taken)
            continue
        if lowered in CADENCES:
            cadence = lowered
            index += 1
            continue
        if _is_type(word):
            types.append(word)
            index += 1
            continue
        matched = _longest(words, index, _is_state) or 0
        if matched:
            states.append(" ".join(words[index:index + matched]))
        else:
            matched = _longest(words, index, _is_model) or 0
            if not matched:
                raise CommandError(_unknown_word(word))
            models.append(" ".join(words[index:index + matched]))
        index += matched
    if len(agency) > 1:
        raise CommandError("give `agency` once (one piece of text the agency's name must contain).")
    try:
        filter_ = make_filter(states, counties, agency[0] if agency else "", models, types)
    except SubscriptionError as err:
        raise CommandError(f"{err}.") from None
    return Request("subscribe", filter=filter_, cadence=cadence)


def _name_after(words: list[str], start: int) -> list[str]:
    """A county or agency name: its first word always, then words up to the
    next one that means something else."""
    taken = []
    for index in range(start, len(words)):
        word = words[index]
        if taken and (word.lower() in (*_KEYWORDS, *CADENCES) or _is_type(word)
                      or _longest(words, index, _is_state) or _longest(words, index, _is_model)):
            break
        taken.append(word)
    return taken


def _longest(words: list[str], start: int, test) -> int | None:
    for size in range(min(_LONGEST_NAME, len(words) - start), 0, -1):
        if test(" ".join(words[start:start + size])):
            return size
    return None


def _accepted(**criteria) -> bool:
    try:
        make_filter(**criteria)
    except SubscriptionError:
        return False
    return True


def _is_state(text: str) -> bool:
    return _accepted(states=[text])


def _is_model(text: str) -> bool:
    return _accepted(models=[text])


def _is_type(text: str) -> bool:
    return _accepted(types=[text])


def _unknown_word(word: str) -> str:
    if any(word in (t, t.split(".", 1)[1]) for t in ev.OPERATOR_TYPES):
        return f"`{_shown(word)}` is an operator event: it goes to the operator's destination, not to channels."
    shorts = ", ".join(t.split(".", 1)[1] for t in ev.SUBSCRIBER_TYPES)
    return (f"I don't know `{_shown(word)}`. Give states (FL or Florida), models (JEM, TFM, WSO), "
            f"event types ({shorts}), `county NAME`, `agency TEXT` or daily/weekly.")


def _one_state(words: list[str]) -> str:
    text = " ".join(words)
    try:
        return make_filter(states=[text]).states[0]
    except SubscriptionError:
        raise CommandError(f"`/287g latest` takes one state, e.g. `/287g latest FL`; "
                           f"I don't know `{_shown(text)}`.") from None
