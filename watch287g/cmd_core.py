"""Commands over the core: ``replay``, ``events``, ``status``.

Each command imports what it needs when it runs: building the parser for
any command must stay cheap (``watch287g check`` starts with it)."""

from __future__ import annotations

import sys
from pathlib import Path

from watch287g.command import Context, add_command, positive_int


def register(subparsers) -> None:
    parser = add_command(subparsers, "replay",
                         "feed archived workbooks, in manifest order, through gate -> diff -> store", cmd_replay)
    parser.add_argument("manifest", type=Path, help="CSV with columns observed_at, kind, file")
    parser.add_argument("--source", default="ice", help="source name to record the lists under (default: ice)")

    parser = add_command(subparsers, "events", "list recorded events", cmd_events)
    parser.add_argument("--since", help="only events observed at or after this date (YYYY-MM-DD or ISO time)")
    parser.add_argument("--type", action="append", default=[], metavar="T",
                        help="event type, e.g. signed or agreement.signed (repeatable)")
    parser.add_argument("--state", action="append", default=[], metavar="S",
                        help="state code or name (repeatable)")
    parser.add_argument("--format", choices=("table", "jsonl", "csv"), default=None,
                        help="output format (default: table; jsonl with --json)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="only the last N matching events (N >= 1)")

    add_command(subparsers, "status",
                "last good lists, counts, quarantines, the service's next runs and health, the outbox", cmd_status)


def cmd_replay(ctx: Context, args) -> int:
    from watch287g.progress import Progress
    from watch287g.replay import read_manifest, run_replay

    rows = read_manifest(args.manifest)   # checked whole before any write
    progress = Progress(len(rows), "replay", enabled=not (ctx.json or args.quiet))

    def on_step(step) -> None:
        detail = f"{step.row.observed_at[:16]} {step.row.kind:13} {step.result.verdict}"
        progress.update(step.index, detail)

    summary = run_replay(ctx.settings, ctx.store(), args.manifest, args.source, on_step)
    progress.close()
    if ctx.json:
        ctx.emit(summary)
        return 0
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(summary["verdicts"].items()))
    print(f"replayed {summary['snapshots']} snapshots in {summary['seconds']} s: {verdicts}")
    for event_type, count in sorted(summary["events"].items()):
        print(f"  {event_type:24} {count}")
    for q in summary["quarantined"]:
        print(f"  quarantined {q['observed_at']} {q['file']}: {q['reason']}")
    print(f"state: {summary['data_dir']}  (see `watch287g events` and `watch287g status`)")
    return 0


def cmd_events(ctx: Context, args) -> int:
    from watch287g import report

    store = ctx.store()
    if not store.exists():
        print(f"no state in {store.data_dir} yet", file=sys.stderr)
        return 0
    db = store.read()
    events = report.select_events(
        db, since=report.parse_since(args.since) if args.since else None,
        types=report.resolve_types(args.type) or None, states=report.resolve_states(args.state) or None)
    if args.limit is not None:
        events = events[-args.limit:]
    fmt = args.format or ("jsonl" if ctx.json else "table")
    render = {"table": report.render_table, "jsonl": report.render_jsonl, "csv": report.render_csv}[fmt]
    sys.stdout.write(render(events))
    return 0


def cmd_status(ctx: Context, args) -> int:
    from watch287g import report
    from watch287g.service_status import render_status_section, status_section

    store = ctx.store()
    status = report.status_report(store.read())
    status["data_dir"] = str(store.data_dir)
    service = status_section(store)
    if ctx.json:
        ctx.emit({**status, **service})
    else:
        sys.stdout.write(f"state: {store.data_dir}\n" + report.render_status(status)
                         + render_status_section(service))
    return 0
