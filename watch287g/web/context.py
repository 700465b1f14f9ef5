"""What the web app's views share (the settings, the store, the secret,
the rate limiter) and the page that says one thing."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template

from watch287g.schedule import ServiceSettings
from watch287g.settings import Settings
from watch287g.state.store import Store
from watch287g.web.guards import RateLimiter
from watch287g.web.settings import WebSettings


@dataclass
class WebContext:
    """What the views share: the settings, the store, the secret, the limiter."""

    settings: Settings
    store: Store
    secret: bytes | None        # None: no public_url, so no sign-up pages
    service: ServiceSettings
    signups_per_ip: RateLimiter

    @property
    def web(self) -> WebSettings:
        return self.settings.web


def web_context() -> WebContext:
    return current_app.extensions["watch287g"]


def message_page(title: str, text: str, status: int = 200, **extra):
    """A page that says one thing (a result, an error)."""
    return render_template("message.html", title=title, text=text, **extra), status
