"""HTTP mode: Slack's requests reach the Bolt app at ``/slack/events`` on
the service's Flask app, through Bolt's Flask adapter, which checks each
request's signature and timestamp (a bad or stale one gets 401 and reaches
no handler)."""

from __future__ import annotations

from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

EVENTS_PATH = "/slack/events"     # commands, events and interactivity alike


def mount(flask_app: Flask, bolt_app: App) -> None:
    handler = SlackRequestHandler(bolt_app)
    flask_app.add_url_rule(EVENTS_PATH, endpoint="slack_events", view_func=lambda: handler.handle(request),
                           methods=["POST"])
