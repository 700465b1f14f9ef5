"""The one Flask app: its pages, its security headers, and the hook other
parts of watch287g use to add routes to it.

``create_app(settings, store, extra_mounts)`` builds the app. Each mount is
a function given the app before it serves anything; it adds its own routes,
for example the Slack app's::

    def mount_slack(app):
        handler = SlackRequestHandler(bolt_app)
        app.add_url_rule("/slack/events", "slack_events", lambda: handler.handle(request),
                         methods=["POST"])

    create_app(settings, store, extra_mounts=[mount_slack])

Mounted routes get the same security headers, and nothing else: the CSRF
check belongs to the forms that need it (watch287g/web/subscribers.py), so
a mount that authenticates its own requests (Slack's signatures) is not
disturbed.

Every response says: no inline script and nothing from elsewhere (CSP), no
framing, no MIME sniffing, no Referer (addresses may carry tokens). HTML is
rendered by Jinja2 with autoescaping; templates and the one stylesheet are
files in this package.
"""

from __future__ import annotations

from typing import Callable, Sequence

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from watch287g.core.errors import UserError
from watch287g.core.tokens import SecretError, secret_from_env
from watch287g.schedule import service_settings
from watch287g.settings import Settings
from watch287g.state.store import Store
from watch287g.web import health, published, subscribers
from watch287g.web.context import WebContext, message_page
from watch287g.web.guards import PAGE_CSP, RateLimiter, set_csrf_cookie

MAX_REQUEST_BYTES = 64 * 1024
Mount = Callable[[Flask], None]


def create_app(settings: Settings, store: Store, extra_mounts: Sequence[Mount] = ()) -> Flask:
    """The app, or a UserError saying what the environment lacks.

    The sign-up and subscription pages need [web] public_url (their e-mails
    link to it) and the signing secret; without public_url the app serves
    the rest (home, report, /healthz, /metrics) and the mounts."""
    web = settings.web
    secret = None
    if web.public_url:
        try:
            secret = secret_from_env(web.secret_env)
        except SecretError as err:
            raise UserError(f"cannot start the web app: {err}") from None
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["watch287g"] = WebContext(
        settings=settings, store=store, secret=secret, service=service_settings(settings.config),
        signups_per_ip=RateLimiter(web.signups_per_ip_per_hour, 3600))
    for blueprint in (published.blueprint, health.blueprint, *([subscribers.blueprint] if secret else [])):
        app.register_blueprint(blueprint)
    app.context_processor(lambda: {"signup_open": secret is not None})
    for mount in extra_mounts:
        mount(app)
    secure_cookie = (web.public_url or "").startswith("https:")

    @app.after_request
    def protect(response):
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return set_csrf_cookie(response, secure_cookie, web.url_prefix)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        page, status = message_page(f"{err.code} {err.name}", err.description or "", err.code or 500)
        # Keep what the error adds (a 405's Allow), not its plain-text type.
        return page, status, [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]

    if web.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=web.proxy_hops)
    return app
