"""The public event vocabulary and the shape of an event record.

An event is a plain dict, stored in the ``events`` table (its TinyDB doc id is
its ``id``) and handed as-is to the alerts layer and to ``watch287g events``.
docs/events.md documents every field.
"""

from __future__ import annotations

SIGNED = "agreement.signed"
RENEWED = "agreement.renewed"
TERMINATED = "agreement.terminated"
REINSTATED = "agreement.reinstated"
CORRECTED = "agreement.corrected"
PENDING_ADDED = "pending.added"
PENDING_WITHDRAWN = "pending.withdrawn"
PAGE_CHANGED = "page.changed"
SNAPSHOT_QUARANTINED = "snapshot.quarantined"
SOURCE_FAILING = "source.failing"
SOURCE_RECOVERED = "source.recovered"
SOURCE_STALE = "source.stale"
DELIVERY_FAILING = "delivery.failing"

AGREEMENT_TYPES = (SIGNED, RENEWED, TERMINATED, REINSTATED, CORRECTED)
SUBSCRIBER_TYPES = (*AGREEMENT_TYPES, PENDING_ADDED, PENDING_WITHDRAWN, PAGE_CHANGED)
# Operator events never reach subscribers.
OPERATOR_TYPES = (SNAPSHOT_QUARANTINED, SOURCE_FAILING, SOURCE_RECOVERED, SOURCE_STALE, DELIVERY_FAILING)
ALL_TYPES = (*SUBSCRIBER_TYPES, *OPERATOR_TYPES)

# What a subscription gets unless it names its types: corrections are noise
# for most readers, so they are opt-in.
DEFAULT_SUBSCRIBED_TYPES = tuple(t for t in SUBSCRIBER_TYPES if t != CORRECTED)

# Fields copied from an agreement or pending record into its events.
RECORD_FIELDS = ("state", "agency", "model", "signed", "county", "agency_type", "moa_url", "addendum_url")


def record_event(event_type: str, record: dict, observed_at: str, source: dict,
                 row: dict | None = None, **extra) -> dict:
    """An event about one agreement or pending application."""
    event = {
        "type": event_type,
        "observed_at": observed_at,
        "uid": record["uid"],
        **{name: record.get(name) for name in RECORD_FIELDS},
        "source": source,
        "row": row,
    }
    event.update(extra)
    return event


def operator_event(event_type: str, observed_at: str, message: str, **extra) -> dict:
    """An event for the operator only (quarantines, failing sources...)."""
    return {"type": event_type, "observed_at": observed_at, "message": message, **extra}


def is_operator_event(event: dict) -> bool:
    return event.get("type") in OPERATOR_TYPES
