"""The web app's guards: its content security policies, CSRF tokens for its
forms and a per-IP rate limit.

CSRF: a signed double-submit token. A page with a form sets a random nonce
in a cookie (HttpOnly, SameSite=Strict) and puts a token signed over that
nonce in the form; a POST is accepted only when the form's token is
genuine, recent, and signed over the nonce in the request's own cookie. A
page of another site can neither read the cookie nor make the token. The
RFC 8058 one-click unsubscribe POST carries no such token: the signed token
in its address authorises it.

The per-IP limit lives in memory (a restart forgets it); the per-address
limit on sign-ups is counted from the stored subscriptions, so it holds
across restarts and processes (watch287g/web/subscribers.py).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque

from flask import g, request

from watch287g.core.tokens import SUBJECT, TokenError, sign, verify

PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
# The published report may style its SVG inline; its scripts, if any, are files.
REPORT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "object-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
CSRF_COOKIE = "watch287g_csrf"
CSRF_FIELD = "csrf"
CSRF_PURPOSE = "csrf"
CSRF_MAX_AGE_SECONDS = 4 * 3600     # a form left open longer asks for a reload


class CsrfError(Exception):
    """The form's token is missing, forged, expired or not this browser's."""


def csrf_token(secret: bytes) -> str:
    """The token for a form on the page being rendered; the cookie holding
    its nonce is set on the response (``set_csrf_cookie``)."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not SUBJECT.match(nonce):
        nonce = g.new_csrf_nonce = secrets.token_urlsafe(18)
    return sign(secret, CSRF_PURPOSE, nonce, int(time.time()))


def check_csrf(secret: bytes) -> None:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    try:
        signed_for = verify(secret, CSRF_PURPOSE, request.form.get(CSRF_FIELD, ""), time.time(),
                            CSRF_MAX_AGE_SECONDS)
    except TokenError as err:
        raise CsrfError(str(err)) from None
    if not nonce or not secrets.compare_digest(signed_for, nonce):
        raise CsrfError("does not belong to this browser")


def set_csrf_cookie(response, secure: bool, path: str):
    nonce = g.get("new_csrf_nonce")
    if nonce:
        response.set_cookie(CSRF_COOKIE, nonce, max_age=24 * 3600, secure=secure, httponly=True,
                            samesite="Strict", path=path or "/")
    return response


class RateLimiter:
    """At most ``limit`` hits per key in any ``window_seconds``; thread-safe."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        """Count a hit for ``key`` unless it is over the limit."""
        with self._lock:
            self._forget_before(now - self.window)
            hits = self._hits.setdefault(key, deque())
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _forget_before(self, cutoff: float) -> None:
        for key in list(self._hits):
            hits = self._hits[key]
            while hits and hits[0] <= cutoff:
                hits.popleft()
            if not hits:
                del self._hits[key]
