"""The journal: the one way an event enters the state.

``record`` appends events to the log (each gets its ``id``) and, in the same
write session, the delivery rows each needs, so an event and its deliveries
reach the disk together or not at all. Which deliveries an event needs is
not the state's business: the caller passes ``deliveries``, a function from
a recorded event to plain outbox rows (the alerts layer builds them). Rows
are keyed ``event_id:subscription_id``; a key already queued is skipped.
"""

from __future__ import annotations

from typing import Callable, Iterable

from watch287g.core.events import Event

Deliveries = Callable[[Event], Iterable[dict]]


def record(db, events: list[Event], deliveries: Deliveries | None) -> list[Event]:
    """Append ``events`` to the log and queue their deliveries (none with
    ``deliveries=None``, as in a dry run or a replay without alerts)."""
    if not events:
        return events
    db.events.add(events)
    if deliveries is not None:
        queue(db, events, deliveries)
    return events


def queue(db, events: list[Event], deliveries: Deliveries) -> int:
    """Queue the delivery rows of events already in the log; idempotent."""
    wanted = [row for event in events for row in deliveries(event)]
    existing = db.outbox.keys_for(row["event_id"] for row in wanted)
    rows = []
    for row in wanted:
        if row["key"] not in existing:
            existing.add(row["key"])
            rows.append(row)
    db.outbox.add(rows)
    return len(rows)
