"""Commands that show the history: ``stats``, ``export``, ``report``.

Each imports what it needs when it runs, so building the CLI's parser stays light."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from pathlib import Path

from watch287g.command import Context, add_command
from watch287g.core.errors import UserError
from watch287g.core.timeutil import aware, utcnow

KINDS = ("participating", "pending")
FORMATS = ("csv", "json")


def register(subparsers) -> None:
    parser = add_command(subparsers, "stats",
                         "the figures of ICE's lists live at a moment (default: now), as a sentence or --json",
                         cmd_stats)
    _add_as_of(parser)
    parser.add_argument("--state", metavar="S", help="only this state (USPS code or name)")

    parser = add_command(subparsers, "export", "open data: the roster as it stood at a moment, or the event log",
                         cmd_export)
    parser.add_argument("what", choices=("roster", "events"), help="roster: a list as it stood; events: the log")
    _add_as_of(parser)
    parser.add_argument("--kind", choices=KINDS, default="participating", help="roster: which list")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or json")
    parser.add_argument("--since", help="events: only those observed at or after this date")
    parser.add_argument("--operator", action="store_true",
                        help="events: include operator events (quarantined lists, source health)")

    parser = add_command(subparsers, "report",
                         "write the static report (maps, charts, state pages, Atom feeds, open data) to a folder",
                         cmd_report)
    parser.add_argument("--out", metavar="DIR", type=Path, help="the report folder (default: [report] out_dir)")
    _add_as_of(parser)
    parser.add_argument("--base-url", metavar="URL",
                        help="where the folder is published, for the feeds' links (default: [report] base_url)")
    parser.add_argument("--with-archive", action="store_true", default=None,
                        help="publish the archived workbooks the report cites (default: [report] with_archive)")


def _add_as_of(parser) -> None:
    parser.add_argument("--as-of", metavar="WHEN",
                        help="a date (YYYY-MM-DD: the end of that day, UTC) or an ISO date-time "
                             "(UTC unless it names a zone); default: now")


def parse_as_of(text: str | None) -> dt.datetime:
    """--as-of: a bare date means the end of that day (UTC), so "as of
    22 September" includes what was seen that day."""
    if not text:
        return utcnow().replace(microsecond=0)
    try:
        if len(text.strip()) == 10:
            day = dt.date.fromisoformat(text.strip())
            return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
        return aware(dt.datetime.fromisoformat(text.strip())).astimezone(dt.timezone.utc)
    except ValueError:
        raise UserError(f"--as-of {text!r} is not a date (YYYY-MM-DD) or ISO date-time") from None


def _one_state(name: str | None) -> str | None:
    from watch287g.report import resolve_states

    return resolve_states([name]).pop() if name else None


def cmd_stats(ctx: Context, args) -> int:
    from watch287g import stats
    from watch287g.core.normalize import STATES
    from watch287g.counties import county_index
    from watch287g.history import History

    as_of = parse_as_of(args.as_of)
    state = _one_state(args.state)
    history = History(ctx.store())
    participating, pending = history.lists_at(as_of)
    figures = stats.picture(as_of, participating, pending, history.list_events(), county_index().match, state)
    if ctx.json:
        ctx.emit(figures)
        return 0
    print(textwrap.fill(stats.sentence(figures), width=100))
    print()
    for code, count in figures["by_state"].items():
        print(f"  {code:2} {STATES.get(code, code):<26} {count:>6,}")
    for item in figures["unmatched_counties"]:
        print(f"  county not identified: {item['state']} {item['county']!r} "
              f"({item['agreements']} agreement{'s' if item['agreements'] != 1 else ''}: "
              f"{'; '.join(item['agencies'])})")
    return 0


def cmd_export(ctx: Context, args) -> int:
    from watch287g import export, report
    from watch287g.counties import county_index
    from watch287g.history import History

    history = History(ctx.store())
    if args.what == "events":
        if args.as_of:
            raise UserError("--as-of is for `export roster`; use --since to limit the events")
        events = export.public_events(history.events(), include_operator=args.operator)
        events = report.filter_events(events, since=report.parse_since(args.since) if args.since else None)
        sys.stdout.write(export.render(export.event_rows(events), export.EVENT_COLUMNS, args.format))
        return 0
    if args.since or args.operator:
        raise UserError("--since and --operator are for `export events`")
    as_of = parse_as_of(args.as_of)
    record = history.live_list(args.kind, as_of)
    if record is None:
        raise UserError(f"no {args.kind} list was observed at or before {as_of:%Y-%m-%d %H:%M} UTC")
    rows = export.roster_rows(record, history.roster(record), history.records(args.kind), county_index().match)
    sys.stdout.write(export.render(rows, export.ROSTER_COLUMNS, args.format))
    return 0


def cmd_report(ctx: Context, args) -> int:
    from watch287g.history import History
    from watch287g.site.builder import build_report
    from watch287g.site.settings import check_base_url

    settings = ctx.settings.report
    out = args.out or settings.out_dir
    if out is None:
        raise UserError("where should the report go? give --out DIR or set [report] out_dir in the config")
    base_url = check_base_url(args.base_url, "--base-url") if args.base_url else settings.base_url
    with_archive = settings.with_archive if args.with_archive is None else args.with_archive
    summary = build_report(History(ctx.store()), out, parse_as_of(args.as_of), base_url, with_archive)
    if ctx.json:
        ctx.emit(summary)
    else:
        print(f"report as of {summary['as_of']} written to {summary['out']} in {summary['seconds']} s: "
              f"{summary['states']} state pages, {summary['feeds']} feeds; open {summary['out']}/index.html")
    return 0
