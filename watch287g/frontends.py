"""What ``watch287g run`` serves besides its schedule.

Today: the Slack app (``[slack_app]``), over Socket Mode or over HTTP. In
HTTP mode it is one route on the service's single Flask app, served by the
single waitress server (http_server.py); the web pages mount on that same
app, in ``_http_routes``, the one place where HTTP routes are added.
Nothing here runs when the config asks for none of it.
"""

from __future__ import annotations

import logging
import os

from watch287g.core.errors import UserError
from watch287g.settings import Settings
from watch287g.state.store import Store

log = logging.getLogger("watch287g.frontends")


class Frontends:
    def __init__(self, settings: Settings, store: Store, checker) -> None:
        self.settings = settings
        self.store = store
        self.checker = checker          # runs `/287g check` (the service: Service.check_now)
        self._running: list = []        # what start() started, stopped in reverse order

    def start(self) -> None:
        """Start everything configured; UserError (one line) on a missing
        secret or a port already taken."""
        slack = self.settings.slack_app
        if slack is None:
            return
        missing = slack.missing_secrets(self.settings.alerts.slack.bot_token_env)
        if missing:
            raise UserError(missing[0])
        from watch287g.slackapp.app import build_app

        if slack.mode == "socket":
            from watch287g.slackapp.socket_mode import SocketModeRunner

            bolt = build_app(self.settings, self.store, self.checker, signing_secret=None)
            self._start(SocketModeRunner(bolt, os.environ[slack.app_token_env]))
            return
        bolt = build_app(self.settings, self.store, self.checker,
                         signing_secret=os.environ[slack.signing_secret_env])
        self._serve_http(bolt, slack.host, slack.port)

    def _serve_http(self, bolt, host: str, port: int) -> None:
        from watch287g.http_server import HttpServer, flask_app

        app = flask_app()
        self._http_routes(app, bolt)
        self._start(HttpServer(app, host, port))

    @staticmethod
    def _http_routes(app, bolt) -> None:
        """Every route the service serves over HTTP (the web pages join here)."""
        from watch287g.slackapp.http_mode import mount

        mount(app, bolt)

    def _start(self, part) -> None:
        part.start()
        self._running.append(part)

    def stop(self) -> None:
        while self._running:
            part = self._running.pop()
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - stopping the rest matters more
                log.exception("stopping %s failed", type(part).__name__)
