"""Read-only views of the state for people and scripts: the event log and
the status summary. Nothing here writes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from typing import Iterable

from watch287g.core import events as ev
from watch287g.core.errors import UserError
from watch287g.core.normalize import MODEL_CODES, MODELS, STATES, state_code
from watch287g.state.store import StateDB

CODE_OF_MODEL = {model: code for code, model in MODEL_CODES.items()}
CSV_FIELDS = ("id", "type", "observed_at", "state", "agency", "model", "signed", "county", "agency_type",
              "moa_url", "source_kind", "source_file_name", "source_sha256", "row_line", "changes", "message")


def resolve_types(names: Iterable[str]) -> set[str]:
    """Event types by full name (agreement.signed) or short name (signed)."""
    chosen = set()
    for name in names:
        matches = [t for t in ev.ALL_TYPES if t == name or t.split(".", 1)[1] == name]
        if not matches:
            raise UserError(f"unknown event type {name!r} (known: {', '.join(ev.ALL_TYPES)})")
        chosen.update(matches)
    return chosen


def resolve_states(names: Iterable[str]) -> set[str]:
    chosen = set()
    for name in names:
        code, note = state_code(name)
        if code is None or note:
            raise UserError(f"unknown state {name!r} (use a name or USPS code, e.g. FL or Florida)")
        chosen.add(code)
    return chosen


def parse_since(text: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--since {text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def select_events(db: StateDB, since: str | None = None, types: set[str] | None = None,
                  states: set[str] | None = None) -> list[dict]:
    return filter_events(db.events.in_order(), since, types, states)


def filter_events(events: Iterable[dict], since: str | None = None, types: set[str] | None = None,
                  states: set[str] | None = None) -> list[dict]:
    since_moment = dt.datetime.fromisoformat(since) if since else None
    chosen = []
    for event in events:
        if types and event["type"] not in types:
            continue
        if states and event.get("state") not in states:
            continue
        if since_moment and dt.datetime.fromisoformat(event["observed_at"]) < since_moment:
            continue
        chosen.append(dict(event))
    return chosen


def flat_event(event: dict) -> dict:
    """An event as one row of the documented CSV_FIELDS."""
    # Health events name their source ("ice"); list events cite a file record.
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    row = event.get("row") or {}
    return {
        "id": event["id"], "type": event["type"], "observed_at": event["observed_at"],
        "state": event.get("state"), "agency": event.get("agency"), "model": event.get("model"),
        "signed": event.get("signed"), "county": event.get("county"), "agency_type": event.get("agency_type"),
        "moa_url": event.get("moa_url"), "source_kind": source.get("kind"),
        "source_file_name": source.get("file_name"), "source_sha256": source.get("sha256"),
        "row_line": row.get("line"),
        "changes": json.dumps(event["changes"], ensure_ascii=False) if event.get("changes") else "",
        "message": event.get("message", ""),
    }


def render_jsonl(events: list[dict]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events)


def render_csv(events: list[dict]) -> str:
    return rows_to_csv([flat_event(e) for e in events], CSV_FIELDS)


def rows_to_csv(rows: Iterable[dict], fields: Iterable[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    return buffer.getvalue()


def _csv_safe(value):
    """Scraped text can start with =, +, - or @; spreadsheets would run it as
    a formula. A leading apostrophe keeps it text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def describe(event: dict) -> str:
    """One line a person reads: what happened."""
    changes = event.get("changes") or {}
    if event["type"] in ev.OPERATOR_TYPES:
        return event.get("message", "")
    if event["type"] == ev.PAGE_CHANGED:
        return event.get("summary") or event.get("message", "")
    detail = ", ".join(f"{k}: {v['old']!s} -> {v['new']!s}" for k, v in changes.items())
    if event["type"] == ev.SIGNED and event.get("from_pending"):
        detail = "was pending"
    if event["type"] == ev.TERMINATED:
        detail = f"off ICE's list since {str(event.get('missing_since', ''))[:10]}"
    return detail


def render_table(events: list[dict]) -> str:
    lines = [f"{'ID':>6}  {'DATE':10}  {'TYPE':20}  {'ST':2}  {'MODEL':5}  AGENCY / DETAIL"]
    for event in events:
        short_type = event["type"].split(".", 1)[1] if event["type"].startswith(("agreement.", "pending.")) \
            else event["type"]
        model = CODE_OF_MODEL.get(event.get("model") or "", "")
        agency = event.get("agency") or ""
        detail = describe(event)
        text = f"{agency} — {detail}" if agency and detail else agency or detail
        lines.append(f"{event['id']:>6}  {event['observed_at'][:10]:10}  {short_type:20}  "
                     f"{event.get('state') or '':2}  {model:5}  {text}")
    return "\n".join(lines) + "\n"


def status_report(db: StateDB) -> dict:
    """Last good snapshot per list, current counts, quarantines, recent checks."""
    snapshots = db.snapshots.by_time()
    lists = {}
    for snap in snapshots:
        key = f"{snap['source']}:{snap['kind']}"
        entry = lists.setdefault(key, {"source": snap["source"], "kind": snap["kind"], "last_good": None,
                                       "latest": None, "snapshots": 0, "quarantined": 0})
        entry["snapshots"] += 1
        summary = {k: snap[k] for k in ("observed_at", "file_name", "sha256", "rows", "verdict", "reason")}
        entry["latest"] = summary
        if snap["verdict"] == "quarantined":
            entry["quarantined"] += 1
        else:
            entry["last_good"] = summary
    agreements = db.agreements.all()
    listed = [a for a in agreements if a["status"] == "listed"]
    by_state = Counter(a["state"] or "??" for a in listed)
    by_model = Counter(a["model"] or "unknown" for a in listed)
    by_state_model: dict[str, dict[str, int]] = {}
    for a in listed:
        by_state_model.setdefault(a["state"] or "??", Counter())[CODE_OF_MODEL.get(a["model"] or "", "?")] += 1
    pending = Counter(p["status"] for p in db.pending.all())
    missing = sorted((a for a in agreements if a["status"] == "missing"), key=lambda a: a["missing_since"])
    return {
        "lists": list(lists.values()),
        "agreements": {
            "listed": len(listed),
            "missing_awaiting_confirmation": [
                {"uid": a["uid"], "state": a["state"], "agency": a["agency"], "model": a["model"],
                 "missing_since": a["missing_since"], "lists_without_it": a["missing_count"]} for a in missing],
            "terminated": sum(1 for a in agreements if a["status"] == "terminated"),
            "by_model": dict(sorted(by_model.items())),
            "by_state": {s: {"total": by_state[s], **dict(sorted(m.items()))}
                         for s, m in sorted(by_state_model.items())},
        },
        "pending": {"listed": pending.get("listed", 0) + pending.get("missing", 0),
                    "signed": pending.get("signed", 0), "withdrawn": pending.get("withdrawn", 0)},
        "quarantined": [
            {k: s[k] for k in ("source", "kind", "observed_at", "file_name", "sha256", "reason")}
            for s in snapshots if s["verdict"] == "quarantined"],
        "events": dict(Counter(e["type"] for e in db.events.all())),
    }


def render_status(report: dict) -> str:
    out = []
    for entry in report["lists"]:
        good = entry["last_good"]
        out.append(f"{entry['source']} {entry['kind']} list: {entry['snapshots']} snapshots, "
                   f"{entry['quarantined']} quarantined")
        if good:
            out.append(f"  last good: {good['observed_at']}  {good['file_name']}  {good['rows']} rows  "
                       f"sha256 {good['sha256'][:12]}")
        latest = entry["latest"]
        if latest and latest["verdict"] == "quarantined":
            out.append(f"  LATEST IS QUARANTINED: {latest['observed_at']} {latest['file_name']}: {latest['reason']}")
    if not report["lists"]:
        out.append("no snapshots yet: run `watch287g check` (live) or `watch287g replay MANIFEST.csv`")
    agreements = report["agreements"]
    out.append(f"agreements listed: {agreements['listed']}  terminated: {agreements['terminated']}  "
               f"missing (awaiting confirmation): {len(agreements['missing_awaiting_confirmation'])}")
    for model in MODELS:
        if model in agreements["by_model"]:
            out.append(f"  {model}: {agreements['by_model'][model]}")
    if agreements["by_state"]:
        out.append("  by state (total JEM/TFM/WSO):")
        for state, counts in agreements["by_state"].items():
            name = STATES.get(state, state)
            out.append(f"    {state} {name:<16} {counts['total']:>5}  "
                       f"{counts.get('JEM', 0)}/{counts.get('TFM', 0)}/{counts.get('WSO', 0)}")
    for item in agreements["missing_awaiting_confirmation"]:
        out.append(f"  missing: {item['state']} {item['agency']} ({item['model']}) since "
                   f"{item['missing_since'][:10]}, off {item['lists_without_it']} list(s)")
    pending = report["pending"]
    out.append(f"pending applications listed: {pending['listed']}  signed: {pending['signed']}  "
               f"withdrawn: {pending['withdrawn']}")
    if report["quarantined"]:
        out.append("quarantined snapshots:")
        for q in report["quarantined"]:
            out.append(f"  {q['observed_at']}  {q['kind']}  {q['file_name']}: {q['reason']}")
    return "\n".join(out) + "\n"
