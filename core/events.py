"""The public event vocabulary and the shape of an event record.

An event is a plain dict typed by the TypedDicts below, recorded in the log
by the journal (state/journal.py: its position in the log is its ``id``) and
handed as-is to the alerts layer and to ``watch287g events``. Three shapes:
agreement and pending events cite their evidence (ICE's file, its date,
sha256, the row); page events cite the page; operator events carry a
message for the operator. docs/events.md documents every field.
"""

from __future__ import annotations

from typing import TypedDict

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


class Evidence(TypedDict, total=False):
    """Which list an event was read from."""

    kind: str               # participating | pending
    file_name: str | None   # ICE's own file name
    sha256: str
    observed_at: str        # when watch287g saw that list
    file_url: str
    as_of: str              # ICE's "As of ..." sentence beside the link


class RowEvidence(TypedDict):
    line: int               # the row's number in ICE's sheet
    values: dict[str, str]  # header -> cell text as ICE wrote it


class AgreementEvent(TypedDict, total=False):
    id: int
    type: str               # one of AGREEMENT_TYPES, PENDING_ADDED, PENDING_WITHDRAWN
    observed_at: str
    uid: str
    state: str | None
    agency: str
    model: str | None
    signed: str | None
    county: str | None
    agency_type: str | None
    moa_url: str | None
    addendum_url: str | None
    source: Evidence
    row: RowEvidence | None
    changes: dict           # agreement.corrected / renewed: field -> [before, after]


class PageEvent(TypedDict, total=False):
    id: int
    type: str               # PAGE_CHANGED
    observed_at: str
    source: dict            # {source, url, final_url, title}
    url: str
    title: str | None
    summary: str
    message: str


class OperatorEvent(TypedDict, total=False):
    id: int
    type: str               # one of OPERATOR_TYPES
    observed_at: str
    message: str            # a line for the operator; other fields depend on the type


Event = AgreementEvent | PageEvent | OperatorEvent


def record_event(event_type: str, record: dict, observed_at: str, source: Evidence,
                 row: RowEvidence | None = None, **extra) -> AgreementEvent:
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


def operator_event(event_type: str, observed_at: str, message: str, **extra) -> OperatorEvent:
    """An event for the operator only (quarantines, failing sources...)."""
    return {"type": event_type, "observed_at": observed_at, "message": message, **extra}


def is_operator_event(event: Event) -> bool:
    return event.get("type") in OPERATOR_TYPES
