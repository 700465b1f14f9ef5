"""The Slack app manifest ``watch287g slack-manifest`` prints: paste it at
https://api.slack.com/apps → Create New App → From a manifest.

Every bot scope is here for one reason (docs/slack-app.md lists them).
"""

from __future__ import annotations

import urllib.parse

from watch287g.core.errors import UserError
from watch287g.slackapp.blocks import COMMAND
from watch287g.slackapp.http_mode import EVENTS_PATH

BOT_SCOPES = {
    "commands": "the /287g command",
    "chat:write": "alerts, check results and replies in channels the app was invited to",
    "channels:read": "whether the app is in a public channel before subscribing it; the Home tab's channels",
    "groups:read": "the same for private channels",
    "im:read": "the same for direct messages",
    "mpim:read": "the same for group direct messages",
    "channels:history": "after a crash, read back what was already posted, instead of posting twice",
    "groups:history": "the same for private channels",
    "usergroups:read": "[slack_app] admins may name user groups",
}
BOT_EVENTS = ("app_home_opened",)


def manifest(mode: str, request_url: str | None, name: str = "watch287g") -> dict:
    """The manifest for Socket Mode, or for HTTP mode at ``request_url``
    (the public https address of ``/slack/events``)."""
    if mode == "http":
        request_url = _checked_url(request_url)
    command = {"command": COMMAND, "description": "Subscribe this channel to ICE 287(g) changes, check now, status",
               "usage_hint": "subscribe FL signed | list | check | status | latest FL | help",
               "should_escape": False}
    settings = {"event_subscriptions": {"bot_events": list(BOT_EVENTS)},
                "interactivity": {"is_enabled": True},
                "org_deploy_enabled": False, "socket_mode_enabled": mode == "socket",
                "token_rotation_enabled": False}
    if mode == "http":
        command["url"] = request_url
        settings["event_subscriptions"]["request_url"] = request_url
        settings["interactivity"]["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Alerts when an agency signs, renews or drops a 287(g) agreement with ICE.",
            "long_description": "watch287g watches ICE's 287(g) agreement lists and tells a channel, within the "
                                "hour, when an agency in its states or counties signs, applies for, renews or "
                                "drops an agreement. Every alert cites ICE's own file, the date it was live, its "
                                "sha256 and the row. Type /287g help in a channel to start.",
            "background_color": "#1d4ed8",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False,
                         "messages_tab_read_only_enabled": False},
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": settings,
    }


def _checked_url(url: str | None) -> str:
    if not url:
        raise UserError(f"HTTP mode needs the public address Slack will call: --request-url "
                        f"https://YOUR.HOST{EVENTS_PATH}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UserError(f"--request-url must be an https:// address (Slack calls only https), not {url!r}")
    if not parts.path.endswith(EVENTS_PATH):
        raise UserError(f"--request-url must end in {EVENTS_PATH}, where the service answers Slack, not {url!r}")
    return url
