"""``watch287g slack-manifest``: the Slack app's manifest, to paste at app
creation (docs/slack-app.md walks through it)."""

from __future__ import annotations

import json
import sys

from watch287g.command import Context, add_command


def register(subparsers) -> None:
    parser = add_command(subparsers, "slack-manifest",
                         "print the Slack app manifest (scopes, /287g, App Home) for [slack_app]'s mode",
                         cmd_slack_manifest)
    parser.add_argument("--request-url", metavar="URL",
                        help="HTTP mode: the public https address of /slack/events "
                             "(e.g. https://watch.example.org/slack/events)")
    parser.add_argument("--name", default="watch287g", help="the app's and bot's name in Slack (default: watch287g)")


def cmd_slack_manifest(ctx: Context, args) -> int:
    from watch287g.slackapp.manifest import manifest

    settings = ctx.settings.slack_app
    mode = settings.mode if settings else "socket"
    if settings is None:
        print(f"watch287g: note: {ctx.config.origin} has no [slack_app] section; this is the Socket Mode "
              "manifest (docs/slack-app.md)", file=sys.stderr)
    print(json.dumps(manifest(mode, args.request_url, args.name), indent=None if ctx.json else 2))
    return 0
