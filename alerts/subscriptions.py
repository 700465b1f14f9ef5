"""Subscriptions: who gets which events, where, and how often.

Two sources, one shape: ``[[subscriptions]]`` tables in the config file
(settings, read once at start, id ``config:NAME``) and the ones stored in the
state by ``watch287g subscribe``, the Slack app or the web sign-up (id ``s1``,
``s2``... never reused, so an old outbox record can never point at a newer
subscription). Stored subscriptions are data: each write session reads them
afresh, so another process's changes are seen.

A stored subscription has a status: ``active`` (delivered), ``paused`` (kept,
nothing delivered; resuming delivers only what happens after), ``unconfirmed``
(an e-mail sign-up waiting for its confirmation link) or ``removed`` (kept
with its history, never delivered again). Every change is kept in its
``history``: who, when, what.

A destination is a string key, also used to batch deliveries:
``slack:C0123ABCD`` (bot token), ``webhook:ENV_VAR`` (the variable holds the
incoming-webhook URL, a secret) or ``email:user@example.org`` (lower-cased, so
one address gets one digest whatever the spelling).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Sequence

from watch287g.alerts.settings import check_channel, check_email, check_env_name
from watch287g.core import events as ev
from watch287g.core.config import Config, ConfigError, get, reject_unknown
from watch287g.core.normalize import STATES, clean_text, model_name, state_code

CADENCES = ("instant", "daily", "weekly")
ACTIVE, PAUSED, UNCONFIRMED, REMOVED = "active", "paused", "unconfirmed", "removed"
STATUSES = (ACTIVE, PAUSED, UNCONFIRMED, REMOVED)
DESTINATION_KINDS = ("slack", "webhook", "email")
CONFIG_PREFIX = "config:"
SMTP_REFUSAL = "smtp"       # who paused a subscription whose address the mail server refused for good
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CLI_ID = re.compile(r"^s[0-9]+$")   # names must not look like the ids the CLI hands out
_COUNTY_SUFFIXES = ("COUNTY", "PARISH", "BOROUGH", "CENSUS AREA", "MUNICIPALITY")
_CONFIG_KEYS = {"name", "slack_channel", "webhook_env", "email", "states", "counties",
                "agency_contains", "models", "types", "cadence"}


class SubscriptionError(ValueError):
    """A bad subscription value; str() is a one-line reason without location."""


def fold_words(text: str) -> str:
    """Upper case, apostrophes dropped, punctuation to spaces: "sheriffs"
    finds "Sheriff's", "miami dade" finds "Miami-Dade"."""
    text = clean_text(text).upper().replace("'", "")
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


def fold_county(text: str) -> str:
    folded = fold_words(text)
    for suffix in _COUNTY_SUFFIXES:
        if folded.endswith(" " + suffix):
            return folded[: -len(suffix) - 1]
    return folded


@dataclass(frozen=True)
class Filter:
    """Every given criterion must hold; within one, any value may."""

    states: tuple[str, ...] = ()            # USPS codes
    counties: tuple[str, ...] = ()          # as typed; compared folded
    agency_contains: str = ""
    models: tuple[str, ...] = ()            # canonical model names
    types: tuple[str, ...] = ev.DEFAULT_SUBSCRIBED_TYPES

    def matches(self, event: dict) -> bool:
        if event.get("type") not in self.types:
            return False
        if self.states and event.get("state") not in self.states:
            return False
        if self.counties and fold_county(event.get("county") or "") not in {fold_county(c) for c in self.counties}:
            return False
        if self.agency_contains and fold_words(self.agency_contains) not in fold_words(event.get("agency") or ""):
            return False
        return not self.models or event.get("model") in self.models

    def describe(self) -> str:
        parts = []
        if self.states:
            parts.append("states " + ", ".join(self.states))
        if self.counties:
            parts.append("counties " + ", ".join(self.counties))
        if self.agency_contains:
            parts.append(f"agency contains {self.agency_contains!r}")
        if self.models:
            parts.append("models " + ", ".join(self.models))
        if set(self.types) != set(ev.DEFAULT_SUBSCRIBED_TYPES):
            parts.append("types " + ", ".join(self.types))
        return "; ".join(parts) or "everything"

    def to_doc(self) -> dict:
        return {"states": list(self.states), "counties": list(self.counties),
                "agency_contains": self.agency_contains, "models": list(self.models), "types": list(self.types)}

    @classmethod
    def from_doc(cls, doc: dict) -> Filter:
        return cls(states=tuple(doc["states"]), counties=tuple(doc["counties"]),
                   agency_contains=doc["agency_contains"], models=tuple(doc["models"]), types=tuple(doc["types"]))


@dataclass(frozen=True)
class Change:
    """One entry of a subscription's history."""

    at: str
    by: str                 # "cli", "slack:U123", "web", "operator"...
    what: str               # "created", "paused", "resumed", "confirmed", "removed"...

    def to_doc(self) -> dict:
        return {"at": self.at, "by": self.by, "what": self.what}


@dataclass(frozen=True)
class Subscription:
    id: str
    destination: str
    cadence: str
    filter: Filter = field(default_factory=Filter)
    name: str | None = None
    created_at: str | None = None
    status: str = ACTIVE
    origin: str = "cli"                     # config | cli | slack | web
    history: tuple[Change, ...] = ()

    @property
    def from_config(self) -> bool:
        return self.id.startswith(CONFIG_PREFIX)

    @property
    def delivers(self) -> bool:
        return self.status == ACTIVE

    def describe(self) -> str:
        label = f" ({self.name})" if self.name and not self.from_config else ""
        status = "" if self.status == ACTIVE else f" [{self.status}]"
        return (f"{self.id}{label}{status}: {describe_destination(self.destination)}, {self.cadence}, "
                f"{self.filter.describe()}")

    def how_to_stop(self) -> str:
        if self.from_config:
            return f"remove the [[subscriptions]] entry named {self.name!r} from the config file"
        return f"run: watch287g unsubscribe {self.id}"

    def changed(self, status: str, by: str, at: str, what: str | None = None) -> Subscription:
        return dataclasses.replace(self, status=status, history=(*self.history, Change(at, by, what or status)))

    def to_doc(self) -> dict:
        return {"id": self.id, "name": self.name, "destination": self.destination, "cadence": self.cadence,
                "filter": self.filter.to_doc(), "created_at": self.created_at, "status": self.status,
                "origin": self.origin, "history": [change.to_doc() for change in self.history]}

    @classmethod
    def from_doc(cls, doc) -> Subscription:
        return cls(id=doc["id"], destination=doc["destination"], cadence=doc["cadence"],
                   filter=Filter.from_doc(doc["filter"]), name=doc.get("name"), created_at=doc.get("created_at"),
                   status=doc.get("status", ACTIVE), origin=doc.get("origin", "cli"),
                   history=tuple(Change(**change) for change in doc.get("history", ())))


def describe_destination(destination: str) -> str:
    kind, target = split_destination(destination)
    return {"slack": f"Slack channel {target}", "webhook": f"Slack webhook ${target}",
            "email": f"email {target}"}[kind]


def split_destination(destination: str) -> tuple[str, str]:
    kind, _, target = destination.partition(":")
    if kind not in DESTINATION_KINDS or not target:
        raise SubscriptionError(f"not a destination: {destination!r}")
    return kind, target


def make_destination(slack_channel: str | None, webhook_env: str | None, email: str | None) -> str:
    given = [(k, v) for k, v in (("slack", slack_channel), ("webhook", webhook_env), ("email", email)) if v]
    if len(given) != 1:
        raise SubscriptionError("give exactly one destination: a Slack channel, a webhook env var or an email address")
    kind, value = given[0]
    try:
        if kind == "slack":
            return f"slack:{check_channel(value, 'the Slack channel')}"
        if kind == "webhook":
            return f"webhook:{check_env_name(value, 'the webhook setting')}"
        return f"email:{check_email(value, 'the email address').lower()}"
    except ConfigError as err:
        raise SubscriptionError(str(err)) from None


def make_filter(states: Sequence[str] = (), counties: Sequence[str] = (), agency_contains: str = "",
                models: Sequence[str] = (), types: Sequence[str] = ()) -> Filter:
    return Filter(
        states=tuple(dict.fromkeys(_state(s) for s in states)),
        counties=tuple(dict.fromkeys(_county(c) for c in counties)),
        agency_contains=_agency_text(agency_contains),
        models=tuple(dict.fromkeys(_model(m) for m in models)),
        types=tuple(dict.fromkeys(t for name in types for t in _types(name))) or ev.DEFAULT_SUBSCRIBED_TYPES,
    )


def check_cadence(cadence: str) -> str:
    if cadence not in CADENCES:
        raise SubscriptionError(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    return cadence


def _state(raw: str) -> str:
    code, note = state_code(raw)
    if code is None or note:
        raise SubscriptionError(f"unknown state {raw!r} (use a USPS code or name, e.g. FL or Florida)")
    return code


def _county(raw: str) -> str:
    text = clean_text(raw)
    if not fold_county(text):
        raise SubscriptionError(f"county {raw!r} is empty")
    return text


def _agency_text(raw: str) -> str:
    text = clean_text(raw or "")
    if raw and not fold_words(text):
        raise SubscriptionError(f"agency text {raw!r} has no letters or digits")
    return text


def _model(raw: str) -> str:
    model, note = model_name(raw)
    if model is None or note:
        raise SubscriptionError(f"unknown model {raw!r} (use JEM, TFM, WSO or the full name, "
                                "e.g. 'Task Force Model')")
    return model


def _types(raw: str) -> list[str]:
    found = [t for t in ev.ALL_TYPES if raw in (t, t.split(".", 1)[1])]
    if not found:
        raise SubscriptionError(f"unknown event type {raw!r} (known: {', '.join(ev.SUBSCRIBER_TYPES)})")
    if any(t in ev.OPERATOR_TYPES for t in found):
        raise SubscriptionError(f"{raw!r} is an operator event; it goes to the [operator] destination only")
    return found


def config_subscriptions(config: Config) -> list[Subscription]:
    subscriptions: list[Subscription] = []
    for index, table in enumerate(config.list_of_tables("subscriptions")):
        where = f"{config.origin}: [[subscriptions]] #{index + 1}"
        reject_unknown(table, _CONFIG_KEYS, where)
        name = get(table, "name", str, None, where)
        if not name or not _NAME.match(name) or _CLI_ID.match(name):
            raise ConfigError(f"{where}: needs a name (letters, digits, . _ -; not s1, s2...), "
                              "which gives it a stable id")
        where = f"{config.origin}: [[subscriptions]] {name!r}"
        if any(s.name == name for s in subscriptions):
            raise ConfigError(f"{where}: the name is used twice")
        try:
            subscriptions.append(Subscription(
                id=CONFIG_PREFIX + name, name=name, origin="config",
                destination=make_destination(get(table, "slack_channel", str, None, where),
                                             get(table, "webhook_env", str, None, where),
                                             get(table, "email", str, None, where)),
                cadence=check_cadence(get(table, "cadence", str, "instant", where)),
                filter=make_filter(_strings(table, "states", where), _strings(table, "counties", where),
                                   get(table, "agency_contains", str, "", where),
                                   _strings(table, "models", where), _strings(table, "types", where)),
            ))
        except SubscriptionError as err:
            raise ConfigError(f"{where}: {err}") from None
    return subscriptions


def _strings(table: dict, key: str, where: str) -> list[str]:
    values = get(table, key, list, [], where)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}.{key} must be a list of strings")
    return values


def stored_subscriptions(db, include_removed: bool = False) -> list[Subscription]:
    found = [Subscription.from_doc(doc) for doc in db.subscriptions.all()]
    return found if include_removed else [s for s in found if s.status != REMOVED]


def all_subscriptions(db, fixed: Sequence[Subscription], include_removed: bool = False) -> list[Subscription]:
    """The config file's subscriptions (``fixed``) and the stored ones."""
    return [*fixed, *stored_subscriptions(db, include_removed)]


def add_subscription(db, fixed: Sequence[Subscription], destination: str, cadence: str, filter_: Filter,
                     name: str | None, now: str, by: str = "cli", origin: str = "cli",
                     status: str = ACTIVE) -> Subscription:
    """Store a new subscription (inside a write session)."""
    if name is not None:
        if not _NAME.match(name) or _CLI_ID.match(name):
            raise SubscriptionError(f"name {name!r} must be letters, digits, . _ - (at most 64), "
                                    "and not look like an id (s1, s2...)")
        if any(name in (s.name, s.id) for s in all_subscriptions(db, fixed)):
            raise SubscriptionError(f"a subscription named {name!r} already exists")
    subscription = Subscription(id=db.subscriptions.next_id(), destination=destination,
                                cadence=check_cadence(cadence), filter=filter_, name=name, created_at=now,
                                status=status, origin=origin, history=(Change(now, by, "created"),))
    db.subscriptions.add(subscription.to_doc())
    return subscription


def find_subscription(db, fixed: Sequence[Subscription], ident: str) -> Subscription:
    for subscription in all_subscriptions(db, fixed):
        if ident in (subscription.id, subscription.name):
            return subscription
    raise SubscriptionError(f"no subscription {ident!r} (see `watch287g subscriptions`)")


def check_changeable(db, fixed: Sequence[Subscription], ident: str, origin: str = "the config file") -> Subscription:
    subscription = find_subscription(db, fixed, ident)
    if subscription.from_config:
        raise SubscriptionError(f"{subscription.id} is defined in {origin}; {subscription.how_to_stop()}")
    return subscription


def set_status(db, fixed: Sequence[Subscription], ident: str, status: str, by: str, now: str,
               why: str | None = None) -> Subscription:
    """Pause, resume, confirm or remove a stored subscription; the change
    (and ``why``, when given) is kept in its history. Undelivered alerts of a
    subscription that stops delivering are cancelled by the outbox
    (``cancel_undeliverable``)."""
    if status not in STATUSES:
        raise SubscriptionError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    subscription = check_changeable(db, fixed, ident)
    what = {ACTIVE: "resumed" if subscription.status == PAUSED else "confirmed"}.get(status, status)
    if why:
        what = f"{what}: {why}"
    if subscription.status == status:
        return subscription
    changed = subscription.changed(status, by, now, what)
    db.subscriptions.replace(changed.to_doc())
    return changed


def refused_by_mail_server(db) -> list[tuple[Subscription, Change]]:
    """Stored subscriptions paused because the mail server refused their
    address for good, with that change (for ``status``)."""
    found = []
    for subscription in stored_subscriptions(db):
        last = subscription.history[-1] if subscription.history else None
        if subscription.status == PAUSED and last and last.by == SMTP_REFUSAL:
            found.append((subscription, last))
    return found


def state_name(code: str | None) -> str:
    return STATES.get(code or "", code or "Unknown state")
