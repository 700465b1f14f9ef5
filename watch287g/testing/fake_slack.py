"""A small Slack Web API on 127.0.0.1 for driving the real slack-sdk clients
and the real Bolt app.

Implements chat.postMessage, chat.postEphemeral, conversations.history,
conversations.replies, conversations.info, users.conversations,
usergroups.users.list, views.publish, views.open, auth.test,
apps.connections.open (with the app-level token; it hands out
``socket_mode_url``), incoming webhooks (POST /hooks/...) and slash-command
response URLs (POST /respond/...). It keeps every message per channel, with
its metadata and thread; channels exist once ``add_channel`` made them, with
their members and whether the bot is one. It can be told to answer the next N
calls with 429 (Retry-After) or 500 without acting on them, to stop
answering (port closed), or to post the next N messages and then fail
(answer too late, drop the connection, answer 500): the answer is lost but
the message is in the channel, as happens with the real Slack.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VALID_TOKEN = "xoxb-test-token"
VALID_APP_TOKEN = "xapp-test-token"
BOT_USER = "UBOT0001"
_APP_TOKEN_METHODS = {"apps.connections.open"}
# How a post-then-fail loses its answer (see FakeSlack.post_then_fail).
LATE, DROP, SERVER_ERROR = "late", "drop", "500"
LATE_ANSWER_SECONDS = 5.0     # longer than any test's client timeout
_POSTING = ("/api/chat.postMessage", "/hooks/")


class FakeSlack:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []             # {"method", "path", "body"}
        self.messages: dict[str, list[dict]] = {}  # channel -> messages in posting order
        self.webhook_posts: dict[str, list[dict]] = {}  # hook path -> payloads
        self.responses: dict[str, list[dict]] = {}  # response_url name -> payloads posted to it
        self.ephemeral: list[dict] = []            # chat.postEphemeral calls
        self.home_views: dict[str, list[dict]] = {}  # user -> views published, in order
        self.opened_views: list[dict] = []         # views.open calls
        self.channels: dict[str, dict] = {}        # channel -> {"members": set, "bot_member": bool}
        self.usergroups: dict[str, list[str]] = {}  # group id -> user ids
        self.socket_mode_url: str | None = None    # what apps.connections.open hands out
        # (status, Retry-After, API method or None for any call): refusals of the next calls
        self._failures: list[tuple[int, str | None, str | None]] = []
        self._lost_answers: list[str] = []   # for the next posts: how each loses its answer
        self._closing = threading.Event()    # ends late answers at close()
        self._last_ts = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    # --- what tests use ----------------------------------------------------

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_url(self, name: str = "T000/B000/XXXX") -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def add_channel(self, channel: str, members=(), bot_member: bool = True) -> None:
        with self.lock:
            self.channels[channel] = {"members": set(members), "bot_member": bot_member}

    def responded(self, name: str) -> list[dict]:
        with self.lock:
            return list(self.responses.get(name, []))

    def fail_next(self, count: int, status: int = 429, retry_after: str | None = "0",
                  method: str | None = None) -> None:
        """Refuse the next ``count`` calls (of one API method, if given)
        with ``status``, without acting on them."""
        with self.lock:
            self._failures.extend([(status, retry_after if status == 429 else None, method)] * count)

    def post_then_fail(self, count: int, how: str) -> None:
        """The next ``count`` posts (chat.postMessage or a webhook) are
        carried out, then their answer is lost: ``LATE`` answers after
        LATE_ANSWER_SECONDS, ``DROP`` closes the connection without an
        answer, ``SERVER_ERROR`` answers HTTP 500."""
        if how not in (LATE, DROP, SERVER_ERROR):
            raise ValueError(f"unknown way to fail: {how!r}")
        with self.lock:
            self._lost_answers.extend([how] * count)

    def top_level(self, channel: str) -> list[dict]:
        return [m for m in self.messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, channel: str, ts: str) -> list[dict]:
        return [m for m in self.messages.get(channel, []) if m.get("thread_ts") == ts and m["ts"] != ts]

    def calls(self, path_suffix: str) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith(path_suffix)]

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    # --- the API -----------------------------------------------------------

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def handle(self, method: str, path: str, query: dict, body: bytes,
               auth: str) -> tuple[int, dict, bytes, str | None]:
        """(status, headers, body, how the answer is lost or None)."""
        with self.lock:
            self.requests.append({"method": method, "path": path, "body": body.decode("utf-8", "replace")})
            refusal = next((f for f in self._failures if f[2] is None or path == f"/api/{f[2]}"), None)
            if refusal is not None:
                self._failures.remove(refusal)
                status, retry_after, _method = refusal
                headers = {"Retry-After": retry_after} if retry_after is not None else {}
                error = "ratelimited" if status == 429 else "internal_error"
                return status, headers, json.dumps({"ok": False, "error": error}).encode(), None
            status, headers, payload = self._act(path, query, body, auth)
            lost = None
            if path.startswith(_POSTING) and status == 200 and self._lost_answers and (
                    path.startswith("/hooks/") or json.loads(payload).get("ok")):
                lost = self._lost_answers.pop(0)
            return status, headers, payload, lost

    def _act(self, path: str, query: dict, body: bytes, auth: str) -> tuple[int, dict, bytes]:
        if path.startswith("/hooks/"):
            self.webhook_posts.setdefault(path, []).append(json.loads(body or b"{}"))
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if path.startswith("/respond/"):
            self.responses.setdefault(path[len("/respond/"):], []).append(json.loads(body or b"{}"))
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if not path.startswith("/api/"):
            return 404, {}, b"not found"
        params = dict(query)
        if body:
            try:
                params.update(json.loads(body))
            except ValueError:
                params.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
        method_name = path[len("/api/"):]
        token = VALID_APP_TOKEN if method_name in _APP_TOKEN_METHODS else VALID_TOKEN
        if auth != f"Bearer {token}":
            return _json({"ok": False, "error": "invalid_auth"})
        handler = {"chat.postMessage": self._post, "conversations.history": self._history,
                   "conversations.replies": self._replies, "auth.test": self._auth_test,
                   "chat.postEphemeral": self._post_ephemeral, "conversations.info": self._channel_info,
                   "users.conversations": self._user_channels, "usergroups.users.list": self._group_users,
                   "views.publish": self._publish, "views.open": self._open_view,
                   "apps.connections.open": self._connections_open}.get(method_name)
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"})
        return _json(handler(params))

    def _auth_test(self, params: dict) -> dict:
        return {"ok": True, "team": "Test", "team_id": "T1", "user": "watch287g", "user_id": BOT_USER,
                "bot_id": "B1"}

    def _channel_info(self, params: dict) -> dict:
        channel = self.channels.get(params.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": params["channel"], "is_channel": True,
                                        "is_member": channel["bot_member"]}}

    def _user_channels(self, params: dict) -> dict:
        user = params.get("user")
        found = [{"id": cid} for cid, channel in sorted(self.channels.items()) if user in channel["members"]]
        return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}

    def _group_users(self, params: dict) -> dict:
        group = params.get("usergroup")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _post_ephemeral(self, params: dict) -> dict:
        if params.get("channel") not in self.channels or not params.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        self.ephemeral.append({**params, "blocks": _decoded(params.get("blocks"))})
        return {"ok": True, "message_ts": self._next_ts()}

    def _publish(self, params: dict) -> dict:
        view = _decoded(params.get("view"))
        if not params.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        self.home_views.setdefault(params["user_id"], []).append(view)
        return {"ok": True, "view": view}

    def _open_view(self, params: dict) -> dict:
        view = _decoded(params.get("view"))
        if not params.get("trigger_id") or not isinstance(view, dict) or view.get("type") != "modal":
            return {"ok": False, "error": "invalid_arguments"}
        self.opened_views.append(view)
        return {"ok": True, "view": {**view, "id": f"V{len(self.opened_views)}"}}

    def _connections_open(self, params: dict) -> dict:
        if not self.socket_mode_url:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_mode_url}

    def _post(self, params: dict) -> dict:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        blocks = _decoded(params.get("blocks"))
        if blocks and len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        metadata = _decoded(params.get("metadata"))
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "text": params.get("text"), "blocks": blocks or [],
                   "metadata": metadata}
        if params.get("thread_ts"):
            parent = next((m for m in self.messages.get(channel, []) if m["ts"] == params["thread_ts"]), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = params["thread_ts"]
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _visible(self, message: dict, params: dict) -> dict:
        shown = dict(message)
        if not _truthy(params.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    def _history(self, params: dict) -> dict:
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        found = [m for m in reversed(self.top_level(params["channel"])) if float(m["ts"]) > oldest]
        page = found[start:start + limit]
        more = start + limit < len(found)
        return {"ok": True, "messages": [self._visible(m, params) for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _replies(self, params: dict) -> dict:
        channel, ts = params["channel"], params["ts"]
        parent = [m for m in self.messages.get(channel, []) if m["ts"] == ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        thread = parent + self.replies(channel, ts)
        return {"ok": True, "messages": [self._visible(m, params) for m in thread], "has_more": False}


def _decoded(value):
    """A JSON argument slack-sdk may send as a string (form-encoded calls)."""
    return json.loads(value) if isinstance(value, str) else value


def _truthy(value) -> bool:
    return value in (True, 1, "1", "true", "True")


def _json(payload: dict) -> tuple[int, dict, bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _handler_for(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload, lost = fake.handle(self.command, parts.path, query, body,
                                                         self.headers.get("Authorization", ""))
            if lost == DROP:
                self.close_connection = True        # posted; the client gets no answer at all
                return
            if lost == LATE:
                fake._closing.wait(LATE_ANSWER_SECONDS)   # posted; the client gives up waiting first
            elif lost == SERVER_ERROR:
                status, headers, payload = 500, {"Content-Type": "application/json"}, \
                    b'{"ok": false, "error": "internal_error"}'
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass    # a late answer to a client that gave up

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler
