"""Health the service watches after every check: stale lists, and checks
that died unrecorded.

ICE edits its participating list every few days; one that stays the same
for ten days more likely means the link moved, the page is served from a
stale cache, or our spider follows the wrong file. The rules live in
state/health.py; this module runs them in a write session and journals the
operator events they raise with their deliveries, so a restart neither
repeats an alert nor loses one.
"""

from __future__ import annotations

import datetime as dt

from watch287g.alerts import outbox
from watch287g.settings import Settings
from watch287g.state import health, journal
from watch287g.state.store import Store


def watch_staleness(store: Store, settings: Settings, thresholds: dict[str, dict[str, float]],
                    now: dt.datetime) -> list[dict]:
    """Record (and queue for the operator) staleness alerts due at ``now``;
    returns the events recorded.

    A cheap lock-free read decides first, so the usual case (nothing new)
    never takes the write lock; the decision is re-made inside the session."""
    if not store.exists() or not health.stale_transitions(store.read(), thresholds, now):
        return []
    with store.write() as db:
        found = health.stale_transitions(db, thresholds, now)
        if found:
            health.mark_stale(db, found)
            journal.record(db, found, outbox.deliveries(db, settings.alerts, settings.subscriptions, now))
    return found


def record_failed_check(store: Store, settings: Settings, source: str, started_at: str, finished_at: str,
                        message: str, failures_before_alert: int, now: dt.datetime) -> list[dict]:
    """Record a check whose process ended without a result (timed out,
    crashed, or exited without recording): a failed check like any other, so
    the source's failure streak counts it and ``source.failing`` fires at the
    same threshold.

    A child stopped by SIGTERM may still have recorded its own unfinished
    check on the way out; then it is not recorded twice."""
    with store.write() as db:
        if health.recorded_since(db, source, started_at):
            return []
        raised = health.record_check(db, {"source": source, "started_at": started_at, "finished_at": finished_at,
                                          "ok": False, "message": message, "recorded_by": "service"},
                                     failures_before_alert)
        journal.record(db, raised, outbox.deliveries(db, settings.alerts, settings.subscriptions, now))
    return raised
