"""Transports: how one batch reaches one kind of destination.

A batch is what the outbox claimed for one destination and cadence in one
run: its events (each once, however many of the destination's
subscriptions matched), a token that names it everywhere (Slack metadata,
the e-mail Message-ID) and the time it was formed.

Each destination kind (the part of the key before ':') has a Transport:
render the batch for its medium, send it, and — where the medium allows —
read back what a crashed run already delivered. A new channel is one new
Transport class, registered in ``TRANSPORTS``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Protocol

from watch287g.alerts.links import mail_links
from watch287g.alerts.mailer import send_email
from watch287g.alerts.render_email import render_email
from watch287g.alerts.render_slack import render_batch
from watch287g.alerts.settings import AlertSettings
from watch287g.alerts.slack import SendResult, SlackChannel, SlackWebhook
from watch287g.alerts.subscriptions import split_destination
from watch287g.core.tokens import SecretError


@dataclass
class Batch:
    token: str
    destination: str
    cadence: str
    batch_at: dt.datetime
    events: list[dict]              # sorted by id, each once
    subscription_ids: list[str]

    @property
    def kind(self) -> str:
        return split_destination(self.destination)[0]

    @property
    def target(self) -> str:
        return split_destination(self.destination)[1]


class Transport(Protocol):
    #: True when delivered messages can be found again after a crash; else
    #: an in-doubt batch is resent (docs/alerts.md: delivery guarantees).
    readable_back: bool

    @staticmethod
    def missing_secret(settings: AlertSettings, target: str) -> str | None:
        """What the environment lacks to deliver to ``target``, or None."""

    def send(self, batch: Batch, reasons: list[str]) -> SendResult:
        """Deliver the batch; ``reasons`` say why the reader receives it."""

    def find_delivered(self, batch: Batch) -> set[int] | None:
        """Events of the batch already delivered (None: nothing of it);
        raises ReconcileError when the destination cannot be read now."""


class SlackBotTransport:
    readable_back = True

    @staticmethod
    def missing_secret(settings: AlertSettings, target: str) -> str | None:
        return _unset(settings.slack.bot_token_env, "the Slack bot token")

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings.slack

    def send(self, batch: Batch, reasons: list[str]) -> SendResult:
        messages = render_batch(batch.events, batch.cadence, self.settings, can_thread=True)
        return SlackChannel(self.settings, batch.target).send(messages, batch.token)

    def find_delivered(self, batch: Batch) -> set[int] | None:
        return SlackChannel(self.settings, batch.target).find_delivered(batch.token, batch.batch_at)


class SlackWebhookTransport:
    readable_back = False

    @staticmethod
    def missing_secret(settings: AlertSettings, target: str) -> str | None:
        return _unset(target, "an incoming-webhook URL")

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings.slack

    def send(self, batch: Batch, reasons: list[str]) -> SendResult:
        messages = render_batch(batch.events, batch.cadence, self.settings, can_thread=False)
        return SlackWebhook(self.settings, batch.target).send(messages)

    def find_delivered(self, batch: Batch) -> set[int] | None:
        raise NotImplementedError("incoming webhooks cannot be read back")


class EmailTransport:
    readable_back = False

    @staticmethod
    def missing_secret(settings: AlertSettings, target: str) -> str | None:
        if not settings.email.username:
            return None
        return _unset(settings.email.password_env, f"the SMTP password of {settings.email.username}")

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings.email
        self.links = settings.links

    def send(self, batch: Batch, reasons: list[str]) -> SendResult:
        try:
            links = self.links and mail_links(self.links, batch.subscription_ids, batch.batch_at)
        except SecretError as err:      # retried like a missing SMTP password, once the operator sets it
            return SendResult(error=str(err))
        message = render_email(batch.events, reasons, batch.cadence, batch.target, batch.token, batch.batch_at,
                               self.settings, links)
        failure = send_email(message, batch.target, self.settings)
        if failure:
            return SendResult(error=failure.reason, permanent=failure.permanent)
        return SendResult(delivered=[event["id"] for event in batch.events], messages=1)

    def find_delivered(self, batch: Batch) -> set[int] | None:
        raise NotImplementedError("sent e-mail cannot be read back")


TRANSPORTS: dict[str, type] = {"slack": SlackBotTransport, "webhook": SlackWebhookTransport,
                               "email": EmailTransport}


def transport_for(batch: Batch, settings: AlertSettings) -> Transport:
    return TRANSPORTS[batch.kind](settings)


def missing_secrets(settings: AlertSettings, destinations: list[str]) -> list[str]:
    """One line per secret the environment lacks for these destinations."""
    found = []
    for destination in destinations:
        kind, target = split_destination(destination)
        missing = TRANSPORTS[kind].missing_secret(settings, target)
        if missing and missing not in found:
            found.append(missing)
    return found


def _unset(variable: str, what: str) -> str | None:
    return None if os.environ.get(variable) else f"${variable} is not set ({what})"
