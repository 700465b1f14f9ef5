"""What the web pages and the confirmation e-mail say about a subscription:
the choices in words, not ids and event types."""

from __future__ import annotations

from watch287g.alerts.subscriptions import Subscription
from watch287g.core import events as ev
from watch287g.core.normalize import STATES

TYPE_LABELS = {
    ev.SIGNED: "new agreements signed",
    ev.RENEWED: "agreements renewed",
    ev.TERMINATED: "agreements that left ICE's list (terminated)",
    ev.REINSTATED: "agreements back on the list",
    ev.CORRECTED: "corrections (re-spelled names, filled-in fields)",
    ev.PENDING_ADDED: "new applications (pending list)",
    ev.PENDING_WITHDRAWN: "applications withdrawn",
    ev.PAGE_CHANGED: "changes to watched state pages",
}
CADENCE_LABELS = {"instant": "as it happens", "daily": "a daily digest", "weekly": "a weekly digest"}


def address(subscription: Subscription) -> str:
    return subscription.destination.partition(":")[2]


def describe(subscription: Subscription) -> list[tuple[str, str]]:
    """(what, value) lines a subscriber reads: the choices in words."""
    chosen = subscription.filter
    return [
        ("Sent to", address(subscription)),
        ("States", ", ".join(STATES.get(code, code) for code in chosen.states) or "all states"),
        ("Counties", ", ".join(chosen.counties) or "all counties"),
        ("Models", ", ".join(chosen.models) or "all models"),
        ("Changes", "; ".join(TYPE_LABELS.get(t, t) for t in chosen.types)),
        ("How often", CADENCE_LABELS.get(subscription.cadence, subscription.cadence)),
    ]
