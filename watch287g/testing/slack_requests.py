"""Requests as Slack sends them to an app in HTTP mode: form-encoded slash
commands and interactions, JSON events, each signed with the app's signing
secret (HMAC-SHA256 over "v0:TIMESTAMP:BODY", Slack's version 0 scheme).
The Slack app's tests and benchmarks/bench_slackapp.py send them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Answer:
    status: int
    body: str

    @property
    def json(self) -> dict:
        return json.loads(self.body) if self.body else {}


@dataclass
class SlackClient:
    """Posts to the app's /slack/events as Slack would."""

    url: str
    secret: str = SIGNING_SECRET

    def post(self, body: bytes, content_type: str, timestamp: float | None = None,
             secret: str | None = None) -> Answer:
        stamp = str(int(time.time() if timestamp is None else timestamp))
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": signature(secret or self.secret, stamp, body)}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.read().decode())
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read().decode())

    def command(self, text: str, channel: str, user: str, response_url: str, **signing) -> Answer:
        return self.post(command_body(text, channel, user, response_url), "application/x-www-form-urlencoded",
                         **signing)

    def interaction(self, payload: dict) -> Answer:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def event(self, event: dict) -> Answer:
        return self.post(json.dumps(event_body(event)).encode(), "application/json")


def command_fields(text: str, channel: str, user: str, response_url: str) -> dict:
    return {"token": "unused", "team_id": "T1", "team_domain": "test", "channel_id": channel,
            "channel_name": "test", "user_id": user, "user_name": user.lower(), "command": "/287g", "text": text,
            "api_app_id": "A0LOCAL", "response_url": response_url, "trigger_id": f"trigger-{time.monotonic_ns()}"}


def command_body(text: str, channel: str, user: str, response_url: str) -> bytes:
    return urllib.parse.urlencode(command_fields(text, channel, user, response_url)).encode()


def event_body(event: dict) -> dict:
    return {"token": "unused", "team_id": "T1", "api_app_id": "A0LOCAL", "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}", "event_time": int(time.time()), "event": event}


def home_opened(user: str) -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}


def button(user: str, action_id: str, value: str) -> dict:
    return {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A0LOCAL",
            "trigger_id": f"trigger-{time.monotonic_ns()}", "container": {"type": "view", "view_id": "VHOME"},
            "view": {"id": "VHOME", "type": "home"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": f"actions:{value}", "value": value,
                         "action_ts": str(time.time())}]}


def form_submission(user: str, channel: str, values: dict) -> dict:
    return {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A0LOCAL",
            "trigger_id": f"trigger-{time.monotonic_ns()}",
            "view": {"id": "VFORM", "type": "modal", "callback_id": "subscribe", "private_metadata": channel,
                     "state": {"values": values}}}
