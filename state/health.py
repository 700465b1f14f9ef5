"""Source health: failed checks in a row, told to the operator once per streak.

A check that fails (HTTP error, timeout, block page, missing link, refused or
quarantined list) is recorded in table "checks" like any other; it never
produces an agreement event. After ``failures_before_alert`` failed checks in
a row the operator gets one ``source.failing`` event; the first good check
after that gets one ``source.recovered``. A streak shorter than the threshold
ends silently: sites have bad minutes.

Staleness is watched here too: for each (source, list kind), how long since
the last accepted snapshot; past its threshold, one ``source.stale``; when a
newer list is accepted, one ``source.recovered``.

The streak lives in the meta table (``health:<source>``), so trimming old
check records never changes it.
"""

from __future__ import annotations

import datetime as dt

from watch287g.core import events as ev
from watch287g.core.timeutil import parse_iso, to_iso
from watch287g.core.records import DEFAULT_FAILURES_BEFORE_ALERT
from watch287g.state.store import StateDB

STALE_META = "service:stale"      # lists the operator has been told are stale
ACCEPTED_VERDICTS = ("baseline", "accepted")


def _key(source: str) -> str:
    return f"health:{source}"


def streak(db: StateDB, source: str) -> dict:
    """{"failures": failed checks in a row, "since": first failure's time,
    "alerted": whether source.failing was sent, "last_ok": last good check}."""
    return db.meta.get(_key(source)) or {"failures": 0, "since": None, "alerted": False, "last_ok": None}


def record_check(db: StateDB, check: dict, failures_before_alert: int = DEFAULT_FAILURES_BEFORE_ALERT) -> list[dict]:
    """Store a check record ({source, started_at, finished_at, ok, message,
    ...}); returns the operator events it raised, for the journal."""
    source = check["source"]
    db.checks.add(check)
    state = streak(db, source)
    raised = []
    if check["ok"]:
        if state["alerted"]:
            raised.append(ev.operator_event(
                ev.SOURCE_RECOVERED, check["finished_at"],
                f"{source} is working again after {_checks(state['failures'])} failed since {state['since']}",
                source=source, failures=state["failures"], failing_since=state["since"]))
        state = {"failures": 0, "since": None, "alerted": False, "last_ok": check["finished_at"]}
    else:
        state = {**state, "failures": state["failures"] + 1, "since": state["since"] or check["started_at"]}
        if not state["alerted"] and state["failures"] >= failures_before_alert:
            state["alerted"] = True
            raised.append(ev.operator_event(
                ev.SOURCE_FAILING, check["finished_at"],
                f"{source}: {_checks(state['failures'])} in a row failed since {state['since']}; "
                f"last: {check['message']}",
                source=source, failures=state["failures"], failing_since=state["since"],
                last_ok=state["last_ok"], last_error=check["message"]))
    db.meta.set(_key(source), state)
    return raised


def _checks(count: int) -> str:
    return f"{count} check{'' if count == 1 else 's'}"


def last_accepted(db: StateDB) -> dict[tuple[str, str], str]:
    """{(source, kind): observed_at of its newest accepted snapshot}."""
    return db.snapshots.newest_observed(ACCEPTED_VERDICTS)


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
        age_days = (now - parse_iso(observed_at)).total_seconds() / 86400
        if age_days > limit:
            found[f"{source}:{kind}"] = {"source": source, "kind": kind, "last_accepted": observed_at,
                                         "days": round(age_days, 1), "threshold_days": limit}
    return found


def stale_transitions(db: StateDB, thresholds: dict[str, dict[str, float]], now: dt.datetime) -> list[dict]:
    """Operator events for lists that went stale or came back since the flags were set."""
    flags = db.meta.get(STALE_META, {})
    stale = stale_lists(db, thresholds, now)
    observed = to_iso(now)
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


def mark_stale(db: StateDB, found: list[dict]) -> None:
    """Keep which lists the operator was told are stale (or fresh again),
    in the session that records those events."""
    flags = db.meta.get(STALE_META, {})
    for event in found:
        key = f"{event['source']}:{event['kind']}"
        if event["type"] == ev.SOURCE_STALE:
            flags[key] = {"since": event["last_accepted"], "alerted_at": event["observed_at"]}
        else:
            flags.pop(key, None)
    db.meta.set(STALE_META, flags)


def stale_flags(db: StateDB) -> dict:
    """The lists the operator has been told are stale (for ``status``)."""
    return db.meta.get(STALE_META, {})


def recorded_since(db: StateDB, source: str, moment: str) -> bool:
    """Whether a check of ``source`` finished at or after ``moment``."""
    since = parse_iso(moment)
    return any(check["source"] == source and parse_iso(check["finished_at"]) >= since for check in db.checks.all())
