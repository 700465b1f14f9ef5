"""What ``watch287g run`` serves besides its schedule.

* The web app (``[web]``, watch287g/web/), when ``listen`` and
  ``public_url`` are set.
* The Slack app (``[slack_app]``, watch287g/slackapp/), over Socket Mode or
  over HTTP. In HTTP mode its ``/slack/events`` route is mounted on the same
  Flask app as the web pages.

Whatever is served over HTTP is one Flask app (``web.app.create_app``) on
one waitress server (``web.server.WebServer``); with both configured, the
web app's and the Slack app's ``listen`` must be the same address. Nothing
here runs when the config asks for none of it.
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
        secret, a port already taken or two addresses for one server."""
        mounts, slack_address = self._start_slack()
        web = self.settings.web
        if not (web.served_by_run or mounts):
            return
        if web.served_by_run and mounts and slack_address != web.address:
            raise UserError(f"[slack_app] listen and [web] listen must be the same address when `run` serves "
                            f"both: one server serves the web pages and /slack/events "
                            f"({_address(slack_address)} vs {_address(web.address)})")
        from watch287g.web.app import create_app
        from watch287g.web.server import WebServer

        address = web.address if web.served_by_run else slack_address
        self._start(WebServer(create_app(self.settings, self.store, mounts), address, web.threads,
                              web.url_prefix))

    def _start_slack(self) -> tuple[list, tuple[str, int] | None]:
        """Start the Slack app in Socket Mode, or return its HTTP route to
        mount and the address it asks for."""
        slack = self.settings.slack_app
        if slack is None:
            return [], None
        missing = slack.missing_secrets(self.settings.alerts.slack.bot_token_env)
        if missing:
            raise UserError(missing[0])
        from watch287g.slackapp.app import build_app

        if slack.mode == "socket":
            from watch287g.slackapp.socket_mode import SocketModeRunner

            bolt = build_app(self.settings, self.store, self.checker, signing_secret=None)
            self._start(SocketModeRunner(bolt, os.environ[slack.app_token_env]))
            return [], None
        from watch287g.slackapp.http_mode import mount

        bolt = build_app(self.settings, self.store, self.checker,
                         signing_secret=os.environ[slack.signing_secret_env])
        return [lambda app: mount(app, bolt)], (slack.host, slack.port)

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


def _address(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"
