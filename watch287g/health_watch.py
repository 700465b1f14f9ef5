"""Health the service watches: stale lists, and checks that died unrecorded.

ICE edits its participating list every few days; one that stays the same
for ten days more likely means the link moved, the page is served from a
stale cache, or our spider follows the wrong file. The service asks after
every check: for each (source, list kind), how long since the last accepted
snapshot? Past the configured threshold it records one ``source.stale``
operator event; when a newer list is accepted, one ``source.recovered``.

The "already told" flags live in the store (meta ``service:stale``), written
in the same session as the events and their outbox entries, so a restart
neither repeats an alert nor loses one.

Failure streaks are state.health's; the service only feeds it the checks
that a killed or crashed child could not record.
"""

from __future__ import annotations

import datetime as dt

from watch287g.core import events as ev
from watch287g.core.config import Config
from watch287g.state import health
from watch287g.state.store import StateDB, Store

STALE_META = "service:stale"
ACCEPTED_VERDICTS = ("baseline", "accepted")


def _parse(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def last_accepted(db: StateDB) -> dict[tuple[str, str], str]:
    """{(source, kind): observed_at of its newest accepted snapshot}."""
    newest: dict[tuple[str, str], str] = {}
    for snap in db.raw_table("snapshots").values():
        if snap.get("verdict") not in ACCEPTED_VERDICTS:
            continue
        key = (snap["source"], snap["kind"])
        if key not in newest or _parse(snap["observed_at"]) > _parse(newest[key]):
            newest[key] = snap["observed_at"]
    return newest


def stale_lists(db: StateDB, thresholds: dict[str, dict[str, float]], now: dt.datetime) -> dict[str, dict]:
    """Lists past their threshold: {"source:kind": {source, kind, last_accepted, days}}.

    ``thresholds`` is {source: {kind: days}}; a list whose source or kind is
    not named there is never stale, and a list never accepted has nothing to
    be stale against."""
    found = {}
    for (source, kind), observed_at in last_accepted(db).items():
        limit = thresholds.get(source, {}).get(kind)
        if limit is None:
            continue
        age_days = (now - _parse(observed_at)).total_seconds() / 86400
        if age_days > limit:
            found[f"{source}:{kind}"] = {"source": source, "kind": kind, "last_accepted": observed_at,
                                         "days": round(age_days, 1), "threshold_days": limit}
    return found


def _transitions(db: StateDB, thresholds: dict[str, dict[str, float]], now: dt.datetime) -> list[dict]:
    """Operator events for lists that went stale or came back since the flags were set."""
    flags = db.get_meta(STALE_META, {})
    stale = stale_lists(db, thresholds, now)
    observed = iso(now)
    found = []
    for key, info in sorted(stale.items()):
        if key not in flags:
            found.append(ev.operator_event(
                ev.SOURCE_STALE, observed,
                f"{info['source']}'s {info['kind']} list unchanged for {info['days']:g} days "
                f"(last new list {info['last_accepted'][:16]}; alert threshold {info['threshold_days']:g} days)",
                source=info["source"], kind=info["kind"], condition="stale",
                last_accepted=info["last_accepted"], days=info["days"]))
    for key, flag in sorted(flags.items()):
        if key not in stale:
            source, kind = key.split(":", 1)
            found.append(ev.operator_event(
                ev.SOURCE_RECOVERED, observed,
                f"{source}'s {kind} list changed again (it had been unchanged since {flag['since'][:16]})",
                source=source, kind=kind, condition="stale", unchanged_since=flag["since"]))
    return found


def watch_staleness(store: Store, config: Config, thresholds: dict[str, dict[str, float]],
                    now: dt.datetime, enqueue) -> list[dict]:
    """Record (and queue for the operator) staleness alerts due at ``now``;
    returns the events recorded. ``enqueue`` is alerts.outbox.enqueue.

    A cheap lock-free read decides first, so the usual case (nothing new)
    never takes the write lock; the decision is re-made inside the session."""
    if not store.exists() or not _transitions(store.read(), thresholds, now):
        return []
    with store.write() as db:
        found = _transitions(db, thresholds, now)
        if not found:
            return []
        flags = db.get_meta(STALE_META, {})
        for event in found:
            key = f"{event['source']}:{event['kind']}"
            if event["type"] == ev.SOURCE_STALE:
                flags[key] = {"since": event["last_accepted"], "alerted_at": event["observed_at"]}
            else:
                flags.pop(key, None)
        db.set_meta(STALE_META, flags)
        db.append("events", found, id_field="id")
        enqueue(db, found, config, now)
    return found


def record_failed_check(store: Store, config: Config, source: str, started_at: str, finished_at: str,
                        message: str, failures_before_alert: int, now: dt.datetime, enqueue) -> list[dict]:
    """Record a check whose process ended without a result (timed out,
    crashed): a failed check like any other, so the source's failure streak
    counts it and ``source.failing`` fires at the same threshold.

    A child stopped by SIGTERM may still have recorded its own unfinished
    check on the way out; then it is not recorded twice."""
    with store.write() as db:
        since = _parse(started_at)
        if any(check["source"] == source and _parse(check["finished_at"]) >= since
               for check in db.raw_table("checks").values()):
            return []
        raised = health.record_check(db, {"source": source, "started_at": started_at, "finished_at": finished_at,
                                          "ok": False, "message": message, "recorded_by": "service"},
                                     failures_before_alert)
        if raised:
            enqueue(db, raised, config, now)
    return raised


def stale_flags(db: StateDB) -> dict:
    """The lists the operator has been told are stale (for ``status``)."""
    return db.get_meta(STALE_META, {})
