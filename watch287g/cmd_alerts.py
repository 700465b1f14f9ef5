"""Alert commands: subscribe, unsubscribe, subscriptions, deliver, outbox, digest.

docs/alerts.md documents them. Bad input is a one-line UserError raised
before the state is opened for writing, so a refused command changes nothing.
"""

from __future__ import annotations

import os
import sys

from watch287g.alerts.subscriptions import (
    ACTIVE,
    PAUSED,
    REMOVED,
    SubscriptionError,
    add_subscription,
    all_subscriptions,
    check_changeable,
    make_destination,
    make_filter,
    set_status,
    split_destination,
)
from watch287g.command import EXIT_BUSY, EXIT_FAILED, Context, add_command
from watch287g.core.errors import UserError
from watch287g.core.timeutil import to_iso, utcnow

# The outbox (and slack-sdk, smtplib under it) is imported when a command
# runs, not when the parser is built: `watch287g check` pays for none of it.


def register(subparsers) -> None:
    parser = add_command(subparsers, "subscribe", "add a subscription: where alerts go, which, how often",
                         cmd_subscribe)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--slack-channel", metavar="ID", help="Slack channel ID (C0123ABCD), posted with the bot token")
    where.add_argument("--webhook-env", metavar="VAR",
                       help="environment variable holding a Slack incoming-webhook URL")
    where.add_argument("--email", metavar="ADDR", help="e-mail address")
    parser.add_argument("--state", action="append", default=[], metavar="S", help="USPS code or name (repeatable)")
    parser.add_argument("--county", action="append", default=[], metavar="C", help="county name (repeatable)")
    parser.add_argument("--agency-contains", default="", metavar="TEXT", help="agency name contains (any case)")
    parser.add_argument("--model", action="append", default=[], metavar="M",
                        help="JEM, TFM, WSO or the full model name (repeatable)")
    parser.add_argument("--type", action="append", default=[], metavar="T",
                        help="event type, e.g. signed or agreement.corrected (repeatable; "
                             "default: all but corrections)")
    parser.add_argument("--cadence", choices=("instant", "daily", "weekly"), default="instant",
                        help="instant alerts or a digest (default: instant)")
    parser.add_argument("--name", help="a label to find it by (unsubscribe NAME works too)")

    parser = add_command(subparsers, "unsubscribe", "remove a stored subscription (CLI, Slack or web)",
                         cmd_unsubscribe)
    parser.add_argument("id", metavar="ID", help="subscription id (s3) or name")
    for name, help_text, func in (
            ("pause", "pause a stored subscription: kept, nothing delivered until resumed", cmd_pause),
            ("resume", "resume a paused subscription: it gets what happens from now on", cmd_resume)):
        parser = add_command(subparsers, name, help_text, func)
        parser.add_argument("id", metavar="ID", help="subscription id (s3) or name")

    parser = add_command(subparsers, "subscriptions", "list subscriptions (config file, CLI, Slack, web) "
                         "with who changed them and when", cmd_subscriptions)
    parser.add_argument("--all", action="store_true", help="also list removed subscriptions")
    add_command(subparsers, "deliver", "send the alerts that are due now", cmd_deliver)
    add_command(subparsers, "outbox", "what is waiting to be delivered, and why", cmd_outbox)

    parser = add_command(subparsers, "digest", "send a digest now (normally the service's schedule does)",
                         cmd_digest)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--daily", action="store_const", const="daily", dest="cadence")
    which.add_argument("--weekly", action="store_const", const="weekly", dest="cadence")


def cmd_subscribe(ctx: Context, args) -> int:
    try:
        destination = make_destination(args.slack_channel, args.webhook_env, args.email)
        filter_ = make_filter(args.state, args.county, args.agency_contains, args.model, args.type)
    except SubscriptionError as err:
        raise UserError(str(err)) from None
    fixed = ctx.settings.subscriptions   # a broken config fails here, before the write
    with ctx.store().write() as db:
        try:
            subscription = add_subscription(db, fixed, destination, args.cadence, filter_, args.name,
                                            to_iso(utcnow()))
        except SubscriptionError as err:
            raise UserError(str(err)) from None
    if ctx.json:
        ctx.emit({"subscribed": subscription.to_doc()})
        return 0
    print(f"subscribed {subscription.describe()}")
    print("  (events recorded from now on; `watch287g unsubscribe "
          f"{subscription.id}` stops it)")
    for warning in _setup_warnings(ctx, destination):
        print(f"  note: {warning}", file=sys.stderr)
    return 0


def _setup_warnings(ctx: Context, destination: str) -> list[str]:
    settings = ctx.settings.alerts
    kind, target = split_destination(destination)
    if kind == "slack" and not os.environ.get(settings.slack.bot_token_env):
        return [f"${settings.slack.bot_token_env} is not set here; deliveries need the bot token"]
    if kind == "webhook" and not os.environ.get(target):
        return [f"${target} is not set here; deliveries need it to hold the webhook URL"]
    return []


def _change(ctx: Context, ident: str, status: str) -> tuple:
    """Change a stored subscription's status; cancel what it no longer gets."""
    from watch287g.alerts import outbox

    store, fixed, now = ctx.store(), ctx.settings.subscriptions, to_iso(utcnow())
    try:
        check_changeable(store.read(), fixed, ident, ctx.config.origin)   # refuse before taking the lock
        with store.write() as db:
            subscription = set_status(db, fixed, ident, status, "cli", now)
            cancelled = outbox.cancel_undeliverable(db, ctx.settings.alerts, fixed, now)
    except SubscriptionError as err:
        raise UserError(str(err)) from None
    return subscription, cancelled


def _status_command(status: str, verb: str, note: str):
    """The command that moves a stored subscription to ``status``."""
    def command(ctx: Context, args) -> int:
        subscription, cancelled = _change(ctx, args.id, status)
        if ctx.json:
            ctx.emit({verb: subscription.to_doc(), "cancelled": cancelled})
        else:
            print(f"{verb} {subscription.describe()} ({note.format(cancelled=cancelled)})")
        return 0

    return command


cmd_unsubscribe = _status_command(REMOVED, "unsubscribed", "{cancelled} undelivered alerts cancelled")
cmd_pause = _status_command(PAUSED, "paused", "{cancelled} undelivered alerts cancelled")
cmd_resume = _status_command(ACTIVE, "resumed", "it gets events recorded from now on")


def cmd_subscriptions(ctx: Context, args) -> int:
    subscriptions = all_subscriptions(ctx.store().read(), ctx.settings.subscriptions, include_removed=args.all)
    if ctx.json:
        ctx.emit([s.to_doc() for s in subscriptions])
        return 0
    if not subscriptions:
        print("no subscriptions (add one with `watch287g subscribe` or [[subscriptions]] in the config file)")
    for subscription in subscriptions:
        print(subscription.describe())
        for change in subscription.history:
            print(f"    {change.at}  {change.what} by {change.by}")
    return 0


def cmd_deliver(ctx: Context, args) -> int:
    from watch287g.alerts import outbox

    report = outbox.deliver_due(ctx.store(), ctx.settings.alerts, ctx.settings.subscriptions)
    return _print_delivery(ctx, report)


def cmd_digest(ctx: Context, args) -> int:
    from watch287g.alerts import digest

    report = digest.send_digests(ctx.store(), ctx.settings.alerts, ctx.settings.subscriptions, args.cadence)
    if not ctx.json:
        print(f"{args.cadence} digest: {report['released']} queued items released")
    return _print_delivery(ctx, report)


def _print_delivery(ctx: Context, report: dict) -> int:
    if ctx.json:
        ctx.emit(report)
    else:
        if report.get("busy"):
            print("another delivery run is in progress; it sends what is due")
        for batch in report["batches"]:
            outcome = "ok" if batch["error"] is None else f"FAILED: {batch['error']}"
            print(f"  {batch['destination']} ({batch['cadence']}): {batch['delivered']}/{batch['events']} events "
                  f"in {batch['messages']} messages, {outcome}")
        print(f"sent {report['sent']}, failed {report['failed']}, still pending {report['pending']}"
              + (f", settled after a crash {report['reconciled']}" if report["reconciled"] else ""))
    if report.get("busy"):
        return EXIT_BUSY
    return EXIT_FAILED if report["failed"] else 0


def cmd_outbox(ctx: Context, args) -> int:
    from watch287g.alerts import outbox

    state = outbox.status(ctx.store().read())
    if ctx.json:
        ctx.emit(state)
        return 0
    totals = ", ".join(f"{n} {status}" for status, n in sorted(state["totals"].items())) or "empty"
    print(f"outbox: {totals}")
    for row in state["waiting"]:
        parts = [f"{row['records']} waiting"]
        for key, label in (("due_now", "due now"), ("awaiting_digest", "for the next digest"),
                           ("retrying", "retrying"), ("in_doubt", "in doubt after a crash")):
            if row[key]:
                parts.append(f"{row[key]} {label}")
        print(f"{row['destination']} ({row['cadence']}): {', '.join(parts)}")
        if row["max_attempts"]:
            print(f"  attempts: {row['max_attempts']}; next attempt {row['next_attempt_at'] or 'now'}")
        if row["failing_since"]:
            print(f"  failing since {row['failing_since']} (the operator was alerted)")
        if row["last_error"]:
            print(f"  last error: {row['last_error']}")
    return 0
