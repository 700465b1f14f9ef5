"""A local stand-in for Slack's Socket Mode websocket, on 127.0.0.1.

Point FakeSlack.socket_mode_url at ``url``; the app connects (after asking
apps.connections.open), gets Slack's ``hello``, and ``send`` then delivers
an envelope (a slash command, an event, an interaction) and returns the
payload the app acknowledged it with. Needs the ``websockets`` package (the
``test`` extra).
"""

from __future__ import annotations

import json
import queue
import threading
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._connection: ServerConnection | None = None
        self._connected = threading.Event()
        self._acks: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=local-test"

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _handle(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0LOCAL"},
                                    "debug_info": {"host": "local", "approximate_connection_time": 3600}}))
        with self._lock:
            self._connection = connection
            self.connections += 1
        self._connected.set()
        try:
            for message in connection:
                reply = json.loads(message)
                waiting = self._acks.get(reply.get("envelope_id"))
                if waiting is not None:
                    waiting.put(reply.get("payload") or {})
        except ConnectionClosed:
            pass    # the app went away (a service stopping closes without a close frame)

    def send(self, kind: str, payload: dict, timeout: float = 10) -> dict:
        """Deliver one envelope ("slash_commands", "events_api", "interactive");
        the app's acknowledgement payload, or TimeoutError."""
        envelope_id = uuid.uuid4().hex
        self._acks[envelope_id] = queue.Queue()
        with self._lock:
            connection = self._connection
        if connection is None:
            raise TimeoutError("no app is connected")
        connection.send(json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api",
                                    "retry_attempt": 0, "retry_reason": ""}))
        try:
            return self._acks[envelope_id].get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the app did not acknowledge {kind} within {timeout:g} s") from None
        finally:
            del self._acks[envelope_id]

    def close(self) -> None:
        self._server.shutdown()
