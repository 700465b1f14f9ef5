"""The HTTP side of ``watch287g run``: one Flask app on one waitress server.

waitress is a production WSGI server in pure Python (no Flask or Bolt
development server). Everything the service serves over HTTP mounts on the
same Flask app (``flask_app``): the Slack app's ``/slack/events``
(slackapp/http.py) and the web pages. The server runs in a thread of the
service and stops with it.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from waitress import create_server

from watch287g.core.errors import UserError

log = logging.getLogger("watch287g.http")
THREADS = 4                 # requests served at once; Slack's are short (they acknowledge first)
_STOP_WAIT_SECONDS = 5.0


def flask_app() -> Flask:
    """The one Flask app the service serves."""
    return Flask("watch287g")


class HttpServer:
    """A waitress server for one WSGI app, run in a daemon thread."""

    def __init__(self, wsgi_app, host: str, port: int) -> None:
        try:
            # Behind a reverse proxy, X-Forwarded-* headers are dropped unless
            # trusted: nothing here depends on the client's address.
            self._server = create_server(wsgi_app, host=host, port=port, threads=THREADS, ident="watch287g",
                                         clear_untrusted_proxy_headers=True)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, name="http-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("serving HTTP on %s:%s", self._server.effective_host, self.port)

    def stop(self) -> None:
        self._server.close()
        self._thread.join(_STOP_WAIT_SECONDS)
        self._server.task_dispatcher.shutdown()
