"""``/healthz`` for monitors and load balancers, ``/metrics`` for Prometheus.

``/healthz`` answers 200 when the service is running (it holds its lock and
its heartbeat is fresh) and every list it watches has a good list fresher
than its staleness limit (``[service] stale_after_days``); otherwise 503,
with every reason. ``/metrics`` is Prometheus's text format (0.0.4).

Both read the state without its lock, parsing it again only when it has
changed (watch287g/web/context.py), and show counts only: never a
subscriber, an address or a secret.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

from flask import Blueprint, Response, jsonify

from watch287g.alerts.outbox import CANCELLED, PENDING, SENDING, SENT
from watch287g.alerts.subscriptions import STATUSES
from watch287g.core.records import Source
from watch287g.core.timeutil import parse_iso, to_iso, utcnow
from watch287g.heartbeat import read_heartbeat, running_service_pid
from watch287g.schedule import ServiceSettings
from watch287g.state import health
from watch287g.state.store import StateDB, Store
from watch287g.web.context import web_context

blueprint = Blueprint("health", __name__)
# A heartbeat this many periods old means the scheduler has stopped ticking.
MISSED_BEATS = 3
OUTBOX_STATUSES = (PENDING, SENDING, SENT, CANCELLED)
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@blueprint.get("/healthz")
def healthz():
    context = web_context()
    with context.state.reading() as db:
        report = health_report(db, context.store, context.settings.sources, context.service, utcnow())
    return jsonify(report), 200 if report["ok"] else 503


@blueprint.get("/metrics")
def metrics():
    context = web_context()
    with context.state.reading() as db:
        text = metrics_text(db, context.store, context.service, utcnow())
    return Response(text, headers={"Content-Type": METRICS_TYPE})


def watched_lists(sources: tuple[Source, ...], service: ServiceSettings) -> dict[tuple[str, str], float | None]:
    """(source, list kind) -> staleness limit in days (None: never stale),
    for every scheduled source that has lists: ICE's two, and a state's
    roster table. Plain state pages have no list."""
    scheduled = {entry.name: entry for entry in service.sources}
    found = {}
    for source in sources:
        if source.name not in scheduled:
            continue
        kinds = ("participating", "pending") if source.type == "ice" else (source.kind,) if source.format else ()
        for kind in kinds:
            found[(source.name, kind)] = scheduled[source.name].stale_after_days.get(kind)
    return found


def service_problem(store: Store, service: ServiceSettings) -> str | None:
    if running_service_pid(store.data_dir) is None:
        return "the watch287g service is not running"
    beat = read_heartbeat(store.data_dir) or {}
    age = time.time() - beat.get("touched_at", 0)
    if age > MISSED_BEATS * service.heartbeat_seconds:
        return f"the service's heartbeat is {age:.0f} s old (it beats every {service.heartbeat_seconds:g} s)"
    return None


def health_report(db: StateDB | None, store: Store, sources: tuple[Source, ...], service: ServiceSettings,
                  now: dt.datetime) -> dict:
    """{"ok", "problems": [one line each], "lists": {"source:kind": {last_good, age_days, limit_days}}}."""
    problems = [problem for problem in (service_problem(store, service),) if problem]
    newest = health.last_accepted(db) if db is not None else {}
    lists = {}
    for (source, kind), limit in sorted(watched_lists(sources, service).items()):
        observed = newest.get((source, kind))
        age_days = None if observed is None else (now - parse_iso(observed)).total_seconds() / 86400
        lists[f"{source}:{kind}"] = {"last_good": observed, "age_days": age_days and round(age_days, 3),
                                     "limit_days": limit}
        if observed is None:
            problems.append(f"{source}: no good {kind} list yet")
        elif limit is not None and age_days > limit:
            problems.append(f"{source}: the last good {kind} list is {age_days:.3g} days old "
                            f"(limit {limit:g} days, [service] stale_after_days)")
    return {"ok": not problems, "problems": problems, "at": to_iso(now), "lists": lists}


def metrics_text(db: StateDB | None, store: Store, service: ServiceSettings, now: dt.datetime) -> str:
    out = _Metrics()
    out.add("watch287g_service_up", "gauge", "1 when the service runs and its heartbeat is fresh",
            [({}, 0 if service_problem(store, service) else 1)])
    if db is None:
        return out.text()
    checks = Counter((c["source"], "ok" if c["ok"] else "failed") for c in db.checks.all())
    out.add("watch287g_checks", "gauge", "Checks kept in the state (the last 1000 per source), by result",
            [({"source": source, "result": result}, n) for (source, result), n in sorted(checks.items())])
    out.add("watch287g_check_failure_streak", "gauge", "Failed checks in a row, per source",
            [({"source": s}, health.streak(db, s)["failures"]) for s in sorted({s for s, _ in checks})])
    out.add("watch287g_list_age_seconds", "gauge", "Seconds since the newest good list, per source and kind",
            [({"source": source, "kind": kind}, round((now - parse_iso(at)).total_seconds()))
             for (source, kind), at in sorted(health.last_accepted(db).items())])
    events = Counter(e["type"] for e in db.events.all())
    out.add("watch287g_events_total", "counter", "Events recorded, by type",
            [({"type": t}, n) for t, n in sorted(events.items())])
    outbox = db.outbox.totals()
    out.add("watch287g_deliveries", "gauge", "Delivery records in the outbox, by state",
            [({"state": s}, outbox.get(s, 0)) for s in OUTBOX_STATUSES])
    out.add("watch287g_outbox_oldest_unsent_age_seconds", "gauge",
            "Seconds the oldest undelivered instant alert has waited since it was queued (0: none)",
            [({}, _oldest_unsent_age(db, now))])
    subscriptions = Counter(doc.get("status", "active") for doc in db.subscriptions.all())
    out.add("watch287g_stored_subscriptions", "gauge", "Stored subscriptions (CLI, Slack, web), by status",
            [({"status": s}, subscriptions.get(s, 0)) for s in STATUSES])
    return out.text()


def _oldest_unsent_age(db: StateDB, now: dt.datetime) -> int:
    queued = [parse_iso(row["queued_at"]) for row in db.outbox.waiting(lambda row: row["cadence"] == "instant")]
    return round((now - min(queued)).total_seconds()) if queued else 0


class _Metrics:
    """Prometheus text exposition: HELP, TYPE, then one line per sample."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            label_text = ",".join(f'{key}="{_label(val)}"' for key, val in labels.items())
            self.lines.append(f"{name}{{{label_text}}} {value}" if labels else f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
