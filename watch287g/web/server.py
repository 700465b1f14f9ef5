"""Serving the web app with waitress: a production WSGI server in pure
Python, with a fixed pool of worker threads, that needs no C compiler and
runs the same on every platform.

``watch287g serve`` runs it in the foreground (``serve``); ``watch287g run``
runs it on a thread beside the scheduler for the life of the service
(watch287g/frontends.py). Either way it binds before anything else starts, so a
port in use is a one-line error at start, not a surprise later.
"""

from __future__ import annotations

import logging
import signal
import threading

from waitress import wasyncore
from waitress.server import create_server

from watch287g.core.errors import UserError
from watch287g.web.settings import is_loopback

log = logging.getLogger("watch287g.web")
STOP_WAIT_SECONDS = 10      # requests still running get this long to finish


class WebServer:
    """Any WSGI app on waitress, at ``listen`` (host, port; port 0: any free one)."""

    def __init__(self, app, listen: tuple[str, int], threads: int = 4, url_prefix: str = "") -> None:
        host, port = listen
        try:
            self._server = create_server(app, host=host, port=port, threads=threads, url_prefix=url_prefix,
                                         ident="watch287g")
        except OSError as err:
            raise UserError(f"the web app cannot listen on {host}:{port}: {err.strerror or err}") from None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        where = "this machine only" if is_loopback(host) else "other machines too: put a TLS reverse proxy in front"
        log.info("web app listening on %s (%s)", self.url, where)

    @property
    def url(self) -> str:
        host = self._server.effective_host
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{self._server.effective_port}"

    def run(self) -> None:
        """Serve until ``stop``."""
        self._server.run()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="watch287g-web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let running requests finish (a while), then close every socket.
        The closing runs on the server's own loop (through its trigger): a
        socket closed under another thread's select() would break it."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.task_dispatcher.shutdown(timeout=STOP_WAIT_SECONDS)
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        if self._thread is not None:
            self._thread.join(STOP_WAIT_SECONDS)
        log.info("web app stopped")


def serve(app, listen: tuple[str, int], threads: int = 4, url_prefix: str = "") -> int:
    """For ``watch287g serve``: ``app`` in the foreground until SIGTERM or SIGINT."""
    server = WebServer(app, listen, threads, url_prefix)

    def on_stop(signum, frame):
        # The handler runs inside waitress's loop: stopping happens on a thread.
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    server.run()
    return 0
