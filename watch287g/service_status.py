"""What ``watch287g status`` says about the service: is it running, what
runs next, how each source's last check went, its health, and the outbox.

Read-only, lock-free, and cheap enough to run while the service works:
the heartbeat file and one read of the store.
"""

from __future__ import annotations

import time

from watch287g.core.timeutil import utcnow
from watch287g.heartbeat import read_heartbeat, running_service_pid
from watch287g.state import health
from watch287g.state.store import Store


def status_section(store: Store) -> dict:
    """{"service": {...}, "sources": [...], "outbox": {...}} — see render_status_section."""
    from watch287g.alerts import outbox
    from watch287g.alerts.subscriptions import refused_by_mail_server

    beat = read_heartbeat(store.data_dir) or {}
    pid = running_service_pid(store.data_dir)
    service = {
        "running": pid is not None,
        "pid": pid,
        "state": _state(beat, pid),
        "started_at": beat.get("started_at"),
        "last_tick": beat.get("last_tick"),
        "heartbeat_age_seconds": round(time.time() - beat["touched_at"], 1) if beat else None,
        "checking": beat.get("checking") if pid else None,
        "next_runs": beat.get("next_runs", {}) if pid else {},
    }
    if not store.exists():
        return {"service": service, "sources": [], "outbox": {}, "refused_addresses": []}
    db = store.read()
    last_checks: dict[str, dict] = {}
    for check in db.checks.all():
        known = last_checks.get(check["source"])
        if known is None or check["started_at"] >= known["started_at"]:
            last_checks[check["source"]] = check
    stale = health.stale_flags(db)
    names = sorted(set(last_checks) | {key.split(":", 1)[0] for key in stale})
    sources = []
    for name in names:
        check = last_checks.get(name)
        sources.append({
            "source": name,
            "last_check": {k: check.get(k) for k in ("started_at", "finished_at", "ok", "message")}
            if check else None,
            "failure_streak": health.streak(db, name),
            "stale": {key.split(":", 1)[1]: flag for key, flag in stale.items() if key.startswith(f"{name}:")},
        })
    refused = [{"subscription": sub.id, "destination": sub.destination, "paused_at": change.at,
                "reason": change.what.removeprefix("paused: ")} for sub, change in refused_by_mail_server(db)]
    return {"service": service, "sources": sources,
            "outbox": outbox.status(db, utcnow()), "refused_addresses": refused}


def _state(beat: dict, pid: int | None) -> str:
    if pid:
        return beat.get("state", "running")
    if not beat:
        return "never started"
    # A heartbeat that still says running, with no process holding the lock: killed or crashed.
    return "stopped" if beat.get("state") == "stopped" else "died without stopping cleanly"


def render_status_section(section: dict) -> str:
    out = []
    service = section["service"]
    if service["running"]:
        out.append(f"service: running (pid {service['pid']}) since {service['started_at']}, "
                   f"last tick {service['heartbeat_age_seconds']:g} s ago"
                   + (f", checking {service['checking']} now" if service["checking"] else ""))
        for job, when in service["next_runs"].items():
            out.append(f"  next {job:16} {when or '-'}")
    else:
        out.append(f"service: not running ({service['state']}; start it with `watch287g run`)")
    for entry in section["sources"]:
        check = entry["last_check"]
        result = "never checked" if not check else \
            f"last check {check['finished_at']} {'ok' if check['ok'] else 'FAILED: ' + str(check['message'])}"
        out.append(f"source {entry['source']}: {result}")
        streak = entry["failure_streak"]
        if streak.get("failures"):
            alerted = ", operator alerted" if streak.get("alerted") else ""
            out.append(f"  failing: {streak['failures']} checks in a row since {streak['since']}{alerted}")
        for kind, flag in entry["stale"].items():
            out.append(f"  STALE: {kind} list unchanged since {flag['since']} "
                       f"(operator alerted {flag['alerted_at']})")
    outbox = section["outbox"]
    if outbox:
        totals = ", ".join(f"{n} {s}" for s, n in sorted(outbox.get("totals", {}).items())) or "empty"
        out.append(f"outbox: {totals}")
        for row in outbox.get("waiting", []):
            why = ", ".join(f"{row[k]} {k.replace('_', ' ')}" for k in
                            ("due_now", "awaiting_digest", "retrying", "in_doubt") if row.get(k))
            error = f"; last error: {row['last_error']}" if row.get("last_error") else ""
            out.append(f"  {row['destination']} ({row['cadence']}): {row['records']} waiting ({why}){error}")
    for entry in section["refused_addresses"]:
        out.append(f"PAUSED {entry['subscription']} ({entry['destination']}) at {entry['paused_at']}: the mail "
                   f"server refuses the address ({entry['reason']}); `watch287g resume "
                   f"{entry['subscription']}` once it is fixed")
    return "\n".join(out) + "\n"
