"""What the web app's views share (the settings, the store, the secret,
the rate limiter, a cached read of the state) and the page that says one
thing."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Iterator

from flask import current_app, render_template

from watch287g.schedule import ServiceSettings
from watch287g.settings import Settings
from watch287g.state.store import StateDB, Store
from watch287g.web.guards import RateLimiter
from watch287g.web.settings import WebSettings


class StateCache:
    """The last committed state, read again only when the file has been
    replaced: /healthz and /metrics, probed every few seconds, then cost a
    stat() instead of parsing a year's state (about 75 ms). One reader at a
    time uses the shared read-only view."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._key: tuple | None = None
        self._db: StateDB | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[StateDB | None]:
        """The state, or None before the first write."""
        with self._lock:
            try:
                info = self.store.path.stat()
            except FileNotFoundError:
                yield None
                return
            key = (info.st_ino, info.st_mtime_ns, info.st_size)
            if key != self._key:
                # Replaced between stat() and read(): the newer file is read
                # under the older key, and read again next time. Never stale.
                self._db, self._key = self.store.read(), key
            yield self._db


@dataclass
class WebContext:
    """What the views share: the settings, the store, the secret, the limiter."""

    settings: Settings
    store: Store
    secret: bytes | None        # None: no public_url, so no sign-up pages
    service: ServiceSettings
    signups_per_ip: RateLimiter
    state: StateCache = field(init=False)

    def __post_init__(self) -> None:
        self.state = StateCache(self.store)

    @property
    def web(self) -> WebSettings:
        return self.settings.web


def web_context() -> WebContext:
    return current_app.extensions["watch287g"]


def message_page(title: str, text: str, status: int = 200, **extra):
    """A page that says one thing (a result, an error)."""
    return render_template("message.html", title=title, text=text, **extra), status
