"""Source health: failed checks in a row, told to the operator once per streak.

A check that fails (HTTP error, timeout, block page, missing link, refused or
quarantined list) is recorded in table "checks" like any other; it never
produces an agreement event. After ``failures_before_alert`` failed checks in
a row the operator gets one ``source.failing`` event; the first good check
after that gets one ``source.recovered``. A streak shorter than the threshold
ends silently: sites have bad minutes.

The streak lives in the meta table (``health:<source>``), so trimming old
check records never changes it.
"""

from __future__ import annotations

from watch287g.core import events as ev
from watch287g.core.records import DEFAULT_FAILURES_BEFORE_ALERT
from watch287g.state.store import StateDB

# Check records kept per source (a check every 15 minutes: about ten days);
# older ones are dropped so that the state file, rewritten whole on every
# write, stays small.
CHECKS_KEPT_PER_SOURCE = 1000


def _key(source: str) -> str:
    return f"health:{source}"


def streak(db: StateDB, source: str) -> dict:
    """{"failures": failed checks in a row, "since": first failure's time,
    "alerted": whether source.failing was sent, "last_ok": last good check}."""
    return db.get_meta(_key(source)) or {"failures": 0, "since": None, "alerted": False, "last_ok": None}


def record_check(db: StateDB, check: dict, failures_before_alert: int = DEFAULT_FAILURES_BEFORE_ALERT) -> list[dict]:
    """Store a check record ({source, started_at, finished_at, ok, message,
    ...}); returns the operator events it raised, already stored."""
    source = check["source"]
    db.table("checks").insert(check)
    _trim(db, source)
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
    db.set_meta(_key(source), state)
    db.append("events", raised, id_field="id")
    return raised


def _checks(count: int) -> str:
    return f"{count} check{'' if count == 1 else 's'}"


def _trim(db: StateDB, source: str) -> None:
    table = db.raw_table("checks")
    ids = [doc_id for doc_id, doc in table.items() if doc["source"] == source]
    if len(ids) > CHECKS_KEPT_PER_SOURCE:
        for doc_id in sorted(ids, key=int)[: len(ids) - CHECKS_KEPT_PER_SOURCE]:
            del table[doc_id]
        db.mark_dirty()
