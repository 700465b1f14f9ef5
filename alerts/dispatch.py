"""One batch to one destination: render it for the medium and send it.

A batch is what the outbox claimed for one destination and cadence in one
run: its events (each once, however many of the destination's
subscriptions matched), a token that names it everywhere (Slack metadata,
the e-mail Message-ID) and the time it was formed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from watch287g.alerts.mailer import send_email
from watch287g.alerts.render_email import render_email
from watch287g.alerts.render_slack import render_batch
from watch287g.alerts.router import is_operator_route
from watch287g.alerts.settings import AlertSettings
from watch287g.alerts.slack import SendResult, SlackChannel, SlackWebhook
from watch287g.alerts.subscriptions import Subscription, split_destination


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
    def readable_back(self) -> bool:
        """Slack bot channels can be read back to settle a crash; e-mail and
        webhooks cannot, so those are resent (identical copy) instead."""
        return self.kind == "slack"


def send_batch(batch: Batch, subscriptions: dict[str, Subscription], settings: AlertSettings) -> SendResult:
    kind, target = split_destination(batch.destination)
    if kind == "slack":
        messages = render_batch(batch.events, batch.cadence, settings.slack, can_thread=True)
        return SlackChannel(settings.slack, target).send(messages, batch.token)
    if kind == "webhook":
        messages = render_batch(batch.events, batch.cadence, settings.slack, can_thread=False)
        return SlackWebhook(settings.slack, target).send(messages)
    served = [subscriptions[i] for i in batch.subscription_ids if i in subscriptions]
    message = render_email(batch.events, served, batch.cadence, target, batch.token, batch.batch_at,
                           settings.email, operator=any(is_operator_route(i) for i in batch.subscription_ids))
    error = send_email(message, target, settings.email)
    if error:
        return SendResult(error=error)
    return SendResult(delivered=[e["id"] for e in batch.events], messages=1)


def find_delivered(batch: Batch, settings: AlertSettings) -> set[int] | None:
    """For a batch left in doubt by a crash: the events Slack shows as posted
    (None: its first message is not in the channel). Raises ReconcileError."""
    return SlackChannel(settings.slack, split_destination(batch.destination)[1]).find_delivered(
        batch.token, batch.batch_at)
