"""The signed links a subscriber's e-mail carries when the web app is
published (``[web] public_url``): manage each subscription (the link
expires), stop it (the link lasts: a digest may be read weeks later), and
one ``List-Unsubscribe`` address that stops every stored subscription the
mail serves with one click (RFC 8058).

This module only makes the links; the web app (watch287g/web) serves these
paths and verifies the same tokens (core/tokens.py). Links are made at the
batch's time, so a batch resent after a crash is the identical mail.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

from watch287g.core.tokens import secret_from_env, sign

# Token purposes, each with the path that serves it.
CONFIRM, MANAGE, STOP = "confirm", "manage", "stop"
PATHS = {CONFIRM: "/confirm/", MANAGE: "/manage/", STOP: "/u/"}
SUBJECT_SEPARATOR = "-"                # a stop link for s3 and s7 is about "s3-s7"
STORED_ID = re.compile(r"^s[0-9]+$")   # stored subscriptions; config and operator routes have no links


@dataclass(frozen=True)
class LinkSettings:
    public_url: str                    # https://alerts.example.org, no trailing slash
    secret_env: str
    manage_link_days: float

    def url(self, purpose: str, subject: str, issued_at: dt.datetime) -> str:
        """Raises core.tokens.SecretError when the secret is unset or short."""
        token = sign(secret_from_env(self.secret_env), purpose, subject, int(issued_at.timestamp()))
        return f"{self.public_url}{PATHS[purpose]}{token}"


@dataclass(frozen=True)
class MailLinks:
    unsubscribe: str                        # one click (RFC 8058): stops every stored subscription served
    footer: tuple[tuple[str, str], ...]     # (label, url) for each stored subscription, to print


def linkable(subscription_ids: Iterable[str]) -> list[str]:
    return [sub_id for sub_id in subscription_ids if STORED_ID.match(sub_id)]


def mail_links(settings: LinkSettings, subscription_ids: Iterable[str], issued_at: dt.datetime) -> MailLinks | None:
    """The links for a mail serving these subscriptions (None when none of
    them is a stored one: config and operator routes are the operator's)."""
    stored = linkable(subscription_ids)
    if not stored:
        return None
    footer = []
    for sub_id in stored:
        footer += [(f"Manage {sub_id}", settings.url(MANAGE, sub_id, issued_at)),
                   (f"Unsubscribe from {sub_id}", settings.url(STOP, sub_id, issued_at))]
    return MailLinks(unsubscribe=settings.url(STOP, SUBJECT_SEPARATOR.join(stored), issued_at),
                     footer=tuple(footer))
