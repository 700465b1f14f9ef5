"""A real HTTP server on 127.0.0.1 whose answers tests change between checks.

Each path has a list of replies, served in order (the last one repeats), so a
test can script "500, then 200". A reply with an ``etag`` or
``last_modified`` answers a matching conditional request with 304, as a real
server does. Every request is recorded with its headers. robots.txt allows
everything unless a test routes it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# ICE's 287(g) page as it links its two workbooks (served at /287g by serve_ice_lists).
ICE_PAGE = b"""<html><head><title>287(g)</title></head><body>
<h3>287(g) Participating Agencies</h3>
<p><a href="/doclib/participatingAgencies.xlsx">View 287(g) Participating Agencies</a></p>
<h3>287(g) Pending Agencies</h3>
<p><a href="/doclib/pendingAgencies.xlsx">View 287(g) Pending Agencies</a></p>
</body></html>"""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                  # seconds before answering (a hang, past the client's timeout)
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.route("/robots.txt", Reply(body=b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *replies: Reply, **reply) -> None:
        """Serve ``replies`` in order at ``path`` (or one Reply(**reply))."""
        with self._lock:
            self.routes[path] = list(replies) or [Reply(**reply)]

    def seen(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _next(self, path: str) -> Reply | None:
        with self._lock:
            replies = self.routes.get(path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)


def _handler(server: LocalServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(Seen("GET", self.path, headers))
            reply = server._next(self.path)
            if reply is None:
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            if reply.delay and server._closing.wait(reply.delay):
                return
            extra = dict(reply.headers)
            if reply.etag:
                extra["ETag"] = reply.etag
            if reply.last_modified:
                extra["Last-Modified"] = reply.last_modified
            matched = (reply.etag and headers.get("if-none-match") == reply.etag) or \
                (reply.last_modified and not reply.etag and headers.get("if-modified-since") == reply.last_modified)
            if reply.status == 200 and matched:
                self._send(304, b"", {k: v for k, v in extra.items() if k in ("ETag", "Last-Modified")})
                return
            self._send(reply.status, reply.body, extra)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, *args) -> None:
            pass

    return Handler


def serve_ice_lists(server: LocalServer, participating: bytes, pending: bytes, delay: float = 0.0,
                    etags: bool = False) -> None:
    """ICE's page at /287g and its two workbooks, as the next check will find
    them; with ``etags``, each with an ETag (a check of the same bytes then
    gets 304s)."""
    def tag(body: bytes) -> str | None:
        return f'"{hashlib.sha256(body).hexdigest()[:16]}"' if etags else None

    server.route("/287g", Reply(body=ICE_PAGE, headers={"Content-Type": "text/html"}, etag=tag(ICE_PAGE)))
    server.route("/doclib/participatingAgencies.xlsx", Reply(body=participating, headers=XLSX, delay=delay,
                                                             etag=tag(participating)))
    server.route("/doclib/pendingAgencies.xlsx", Reply(body=pending, headers=XLSX, etag=tag(pending)))

