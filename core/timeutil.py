"""UTC timestamps as the state stores them: ISO 8601 strings ending in Z.

watch287g's clock is the system's, unless ``WATCH287G_CLOCK`` names another
moment: ``watch287g demo`` replays March 2025 with it, so what it records is
dated as ICE published it.
"""

from __future__ import annotations

import datetime as dt
import os

CLOCK_ENV = "WATCH287G_CLOCK"


def utcnow() -> dt.datetime:
    fixed = os.environ.get(CLOCK_ENV)
    return parse_iso(fixed) if fixed else dt.datetime.now(dt.timezone.utc)


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
