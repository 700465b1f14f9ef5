"""UTC timestamps as the state stores them: ISO 8601 strings ending in Z."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(moment: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def to_iso(moment: dt.datetime) -> str:
    return aware(moment).astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_iso() -> str:
    """Now, as the state stores it."""
    return to_iso(utcnow())


def parse_iso(text: str) -> dt.datetime:
    """A stored or configured timestamp; naive ones are taken as UTC."""
    return aware(dt.datetime.fromisoformat(text))
