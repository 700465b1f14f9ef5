"""Socket Mode: the service opens a websocket to Slack (no public URL),
with the app-level token, using Bolt's built-in client (no extra package).

Slack or the network may be down when the service starts: the first
connection is retried in the background with back-off, and the client
reconnects by itself after that.
"""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from watch287g.alerts.slack import describe_error

log = logging.getLogger("watch287g.slackapp")
_RETRY_FIRST_SECONDS, _RETRY_MAX_SECONDS = 2.0, 120.0
_STOP_WAIT_SECONDS = 10.0


class SocketModeRunner:
    def __init__(self, bolt_app: App, app_token: str) -> None:
        self._handler = SocketModeHandler(bolt_app, app_token)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._connect, name="slack-socket-mode", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _connect(self) -> None:
        wait = _RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                self._handler.connect()
            except Exception as err:  # noqa: BLE001 - any failure: say so, try again later
                log.warning("cannot connect to Slack in Socket Mode (%s); retrying in %g s",
                            describe_error(err), wait)
                self._stopping.wait(wait)
                wait = min(wait * 2, _RETRY_MAX_SECONDS)
            else:
                log.info("connected to Slack in Socket Mode")
                return

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(_STOP_WAIT_SECONDS)
        self._handler.close()
