"""``watch287g check``: check the configured sources now.

Exit codes: 0 every check was good; 1 a check failed (an HTTP error, a
timeout, a block page, a missing link, a quarantined list); 2 bad input or
config; 3 another check is running (it waited ``[crawl] lock_wait`` seconds).
"""

from __future__ import annotations

import logging

from watch287g.command import EXIT_FAILED, EXIT_OK, Context, add_command
from watch287g.core.sizes import human_size


def register(subparsers) -> None:
    parser = add_command(subparsers, "check", "check the configured sources now and record what changed",
                         cmd_check)
    parser.add_argument("--source", metavar="NAME", help="check only this source (even if disabled)")
    parser.add_argument("--dry-run", action="store_true",
                        help="fetch and parse, show what would happen, write nothing")
    parser.add_argument("--no-notify", action="store_true",
                        help="record events but do not deliver alerts now (the service or "
                             "`watch287g deliver` sends them)")


def cmd_check(ctx: Context, args) -> int:
    from watch287g.check import run_check

    if not args.quiet:
        logging.getLogger("watch287g.check").setLevel(logging.INFO)   # a line per source as it goes
    report = run_check(ctx.settings, ctx.data_dir, source=args.source, dry_run=args.dry_run,
                       notify=not args.no_notify)
    if ctx.json:
        ctx.emit(report)
    else:
        print(render(report))
    delivery = report.get("delivery") or {}
    return EXIT_OK if report["ok"] and not delivery.get("failed") else EXIT_FAILED


def render(report: dict) -> str:
    lines = ["dry run: nothing was written"] if report["dry_run"] else []
    for result in report["sources"]:
        status = "ok" if result["ok"] else "FAILED"
        lines.append(f"{result['source']}: {status} - {result['message']}")
        for fetch in result["fetched"]:
            lines.append("  " + _fetch_line(fetch))
        for verdict in result["verdicts"]:
            lines.append("  " + _verdict_line(verdict))
        for note in result["notes"]:
            lines.append(f"  note: {note}")
        for event in result["events"]:
            lines.append("  " + event_line(event))
    delivery = report.get("delivery")
    if delivery and (delivery.get("sent") or delivery.get("failed")):
        lines.append(f"alerts: {delivery.get('sent', 0)} delivered, {delivery.get('failed', 0)} failed "
                     f"(retried later), {delivery.get('pending', 0)} waiting")
    return "\n".join(lines)


def event_line(event: dict) -> str:
    from watch287g.report import describe

    prefix = f"#{event['id']} " if event.get("id") is not None else ""
    if event.get("agency"):
        who = " ".join(str(part) for part in (event.get("state"), event["agency"], "-", event.get("model")) if part)
        detail = describe(event)
        return f"{prefix}{event['type']:22} {who}" + (f" ({detail})" if detail else "")
    return f"{prefix}{event['type']:22} {describe(event)}"


def _fetch_line(fetch: dict) -> str:
    url = fetch.get("final_url") or fetch["url"]
    if fetch.get("error") and not fetch.get("status"):
        return f"{fetch['role']:13} ---  {url}: {fetch['error']}"
    size = f"  {human_size(fetch['size'])}" if fetch.get("size") else ""
    sha = f"  sha256 {fetch['sha256'][:12]}" if fetch.get("sha256") else ""
    return f"{fetch['role']:13} {fetch['status']}  {url}{size}{sha}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _verdict_line(verdict: dict) -> str:
    text = f"{verdict['kind']:13} {verdict['verdict']}"
    if verdict.get("file_name"):
        text += f" {verdict['file_name']}"
    if verdict.get("rows"):
        text += f", {verdict['rows']} rows"
    if verdict.get("events"):
        text += f", {plural(verdict['events'], 'event')}"
    if verdict.get("reason"):
        text += f": {verdict['reason']}"
    return text
