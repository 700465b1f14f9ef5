"""Signed tokens: the links in subscribers' e-mails and the web app's forms.

A token reads ``SUBJECT.ISSUED.SIGNATURE``: what it is about (a
subscription id such as ``s12``, several joined by ``-``, or a form's
nonce), when it was made (Unix seconds) and an HMAC-SHA256 of both and of
its *purpose* under a secret that only the environment holds. The purpose is
signed but not written, so a token made to stop a subscription can neither
confirm nor manage one. Changing any character of a token, or signing with
another secret, makes it invalid; a token older than the lifetime its use
allows is expired. Nothing here keeps state: a token used twice verifies
twice, and the caller decides what a second use does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

MIN_SECRET_LENGTH = 32
SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{1,200})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


class TokenError(ValueError):
    """A token that must change nothing; str() says why, in a short phrase
    a reader can be shown ("was altered or forged", "has expired")."""


class SecretError(ValueError):
    """The signing secret is missing or too short; str() says how to fix it."""


def secret_from_env(name: str) -> bytes:
    """The signing secret held by environment variable ``name``."""
    value = os.environ.get(name, "")
    if not value:
        raise SecretError(f"${name} is not set: it holds the secret that signs the links in e-mails "
                          f"(make one with: {MAKE_SECRET})")
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretError(f"${name} is too short ({len(value)} characters): use at least {MIN_SECRET_LENGTH} "
                          f"random characters (make one with: {MAKE_SECRET})")
    return value.encode("utf-8")


def _signature(secret: bytes, purpose: str, subject: str, issued_at: int) -> str:
    mac = hmac.new(secret, f"{purpose}\n{subject}\n{issued_at}".encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign(secret: bytes, purpose: str, subject: str, issued_at: int) -> str:
    if not SUBJECT.match(subject):
        raise ValueError(f"a token subject is letters, digits, '-' and '_', not {subject!r}")
    return f"{subject}.{int(issued_at)}.{_signature(secret, purpose, subject, int(issued_at))}"


def verify(secret: bytes, purpose: str, token: str, now: float, max_age_seconds: float | None) -> str:
    """The token's subject, if it was signed with ``secret`` for ``purpose``
    and (with a ``max_age_seconds``) is not older than that; else TokenError."""
    found = _TOKEN.match(token or "")
    if not found:
        raise TokenError("is not a link this site made (it may be cut short: copy the whole link)")
    subject, issued, signature = found.group(1), int(found.group(2)), found.group(3)
    if not hmac.compare_digest(signature, _signature(secret, purpose, subject, issued)):
        raise TokenError("was altered or forged")
    if max_age_seconds is not None and now - issued > max_age_seconds:
        raise TokenError("has expired")
    return subject
