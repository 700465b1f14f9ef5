"""Posting to Slack with slack-sdk: bot token channels and incoming webhooks.

A post is never retried blindly. slack-sdk's own retry handlers are off for
``chat.postMessage`` (``retry_handlers=[]``), and a 429 is waited out
explicitly: Slack did not act on it. When Slack may have acted on a post
whose answer never came back (a timeout or dropped connection after the
request went out, an HTTP 5xx), the post is *in doubt*: the channel is read
back at once, and the message counts as posted if it is there, as failed
(the outbox retries it after its back-off) if it is not. If the channel
cannot be read now, the rest of the batch stays in doubt, and the outbox
settles it on its next run by the same read-back (``find_delivered``).

Every bot message carries metadata naming its batch token and the events it
delivers, which is what the read-back looks for (conversations.history and
conversations.replies; the app needs channels:history / groups:history).
Reads are safe to repeat, so they keep slack-sdk's retry handlers.

Incoming webhooks cannot be read back: they keep slack-sdk's retries and are
at least once (docs/alerts.md).
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import time
import urllib.error
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from watch287g.alerts.render_slack import SlackMessage
from watch287g.alerts.settings import SlackSettings

METADATA_EVENT_TYPE = "watch287g_delivery"
_HISTORY_PAGES = 20          # 20 x 200 messages back from the batch's time is plenty
_HISTORY_SLACK_SECONDS = 300  # clocks differ; look a little before the batch began
_LONGEST_RATE_LIMIT_WAIT = 60  # seconds; a longer Retry-After is left to the outbox's back-off


@dataclass
class SendResult:
    delivered: list[int] = field(default_factory=list)   # event ids in fully posted messages
    messages: int = 0
    error: str | None = None
    # The undelivered events may have been posted and the channel could not
    # be read to tell: the outbox keeps them in doubt for its next run.
    in_doubt: bool = False
    # The destination refused for good (an e-mail address the mail server rejects).
    permanent: bool = False


class ReconcileError(Exception):
    """Could not read the channel back. ``transient``: Slack was unreachable
    or overloaded (try later); otherwise Slack refused (e.g. missing scope)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def retry_handlers(settings: SlackSettings) -> list:
    """For calls that are safe to repeat: reads, and webhooks (at least once)."""
    return [RateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=settings.server_error_retries),
            ConnectionErrorRetryHandler(max_retry_count=settings.connection_error_retries)]


def describe_error(err: Exception) -> str:
    if isinstance(err, SlackApiError):
        status = getattr(err.response, "status_code", "?")
        detail = err.response.get("error") if hasattr(err.response, "get") else None
        return f"Slack answered HTTP {status}: {detail or 'error'}"
    if isinstance(err, TimeoutError):
        return "no answer from Slack in time"
    if isinstance(err, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.HTTPException)):
        return f"the connection to Slack broke before it answered ({type(err).__name__})"
    return f"{type(err).__name__}: {err}"


def maybe_acted_on(err: Exception) -> bool:
    """Whether Slack may have carried out a request that failed with ``err``.
    urllib raises URLError only while connecting or sending (nothing reached
    Slack whole); an error status other than 5xx is Slack's refusal; a 5xx,
    or a timeout or broken connection while waiting for the answer, comes
    after Slack had the whole request."""
    if isinstance(err, SlackApiError):
        return _status(err) >= 500
    if isinstance(err, urllib.error.URLError):
        return False
    return isinstance(err, (OSError, http.client.HTTPException))


def _status(err: SlackApiError) -> int:
    return getattr(err.response, "status_code", 0) or 0


def _metadata(token: str, event_ids: list[int]) -> dict:
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"batch": token, "events": event_ids}}


class SlackChannel:
    """A channel posted to with the bot token (SLACK_BOT_TOKEN by default)."""

    def __init__(self, settings: SlackSettings, channel: str) -> None:
        self.settings = settings
        self.channel = channel

    def _client(self, *, posting: bool = False) -> WebClient:
        token = os.environ.get(self.settings.bot_token_env)
        if not token:
            raise RuntimeError(f"${self.settings.bot_token_env} is not set (the Slack bot token)")
        return WebClient(token=token, base_url=self.settings.api_base_url, timeout=self.settings.timeout_seconds,
                         retry_handlers=[] if posting else retry_handlers(self.settings))

    def send(self, messages: list[SlackMessage], token: str) -> SendResult:
        """Post the batch's messages in order (replies under the first);
        stops at the first that is not posted."""
        result = SendResult()
        try:
            client = self._client(posting=True)
        except RuntimeError as err:
            result.error = str(err)
            return result
        thread_ts = None
        for message in messages:
            sent_at = time.time()
            try:
                ts = self._post(client, message, token, thread_ts)
            except Exception as err:  # noqa: BLE001 - whatever failed, the rest waits for a retry
                if not maybe_acted_on(err):
                    result.error = describe_error(err)
                    return result
                ts = self._settle_lost_answer(message, token, thread_ts, sent_at, err, result)
                if ts is None:
                    return result
            thread_ts = thread_ts or ts
            result.messages += 1
            result.delivered.extend(message.event_ids)
        return result

    def _post(self, client: WebClient, message: SlackMessage, token: str, thread_ts: str | None) -> str:
        """Post once; a 429 (which Slack did not act on) is waited out up to
        ``rate_limit_retries`` times. Returns the message's ts."""
        waits = 0
        while True:
            try:
                response = client.chat_postMessage(
                    channel=self.channel, text=message.text, blocks=message.blocks,
                    thread_ts=thread_ts if message.in_thread else None,
                    metadata=_metadata(token, message.event_ids), unfurl_links=False, unfurl_media=False)
                return response["ts"]
            except SlackApiError as err:
                wait = _retry_after(err)
                if _status(err) != 429 or waits >= self.settings.rate_limit_retries \
                        or wait > _LONGEST_RATE_LIMIT_WAIT:
                    raise
                waits += 1
                time.sleep(wait)

    def _settle_lost_answer(self, message: SlackMessage, token: str, thread_ts: str | None, sent_at: float,
                            err: Exception, result: SendResult) -> str | None:
        """A post Slack may have carried out: read the channel. Returns the
        message's ts if it is there; else notes why not in ``result``."""
        try:
            found = self._find_posted(message, token, thread_ts, sent_at)
        except ReconcileError as read_err:
            result.error = (f"{describe_error(err)}; the message may be posted (in doubt), and the channel "
                            f"cannot be read back now: {read_err}")
            result.in_doubt = read_err.transient
            if not read_err.transient:
                result.error += " (it will be sent again, and may show twice: grant the history scopes)"
            return None
        if found is None:
            result.error = f"{describe_error(err)}; the channel shows it was not posted"
            return None
        return found["ts"]

    def _find_posted(self, message: SlackMessage, token: str, thread_ts: str | None,
                     sent_at: float) -> dict | None:
        """This batch's copy of ``message`` in the channel, if posted."""
        with _reading_back():
            client = self._client()
            if message.in_thread and thread_ts:
                posted = self._thread_messages(client, token, thread_ts)
            else:
                posted = self._history_messages(client, token, dt.datetime.fromtimestamp(sent_at, dt.timezone.utc))
            return next((m for m in posted if _events_of(m) == message.event_ids), None)

    def find_delivered(self, token: str, since: dt.datetime) -> set[int] | None:
        """Events that messages of this batch delivered, read back from the
        channel; None if the batch's first message is not there."""
        with _reading_back():
            client = self._client()
            first = next(self._history_messages(client, token, since), None)
            if first is None:
                return None
            delivered = set(_events_of(first))
            if first.get("reply_count") or first.get("thread_ts"):
                for reply in self._thread_messages(client, token, first["ts"]):
                    delivered.update(_events_of(reply))
            return delivered

    def _history_messages(self, client: WebClient, token: str, since: dt.datetime) -> Iterator[dict]:
        """The batch's top-level messages, newest first, from ``since`` (less a margin)."""
        oldest = f"{since.timestamp() - _HISTORY_SLACK_SECONDS:.6f}"
        yield from self._pages(client.conversations_history, token, oldest=oldest)

    def _thread_messages(self, client: WebClient, token: str, ts: str) -> Iterator[dict]:
        yield from self._pages(client.conversations_replies, token, ts=ts)

    def _pages(self, call, token: str, **params) -> Iterator[dict]:
        cursor = None
        for _ in range(_HISTORY_PAGES):
            page = call(channel=self.channel, limit=200, include_all_metadata=True, cursor=cursor, **params)
            for message in page.get("messages", []):
                if _batch_of(message) == token:
                    yield message
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return


@contextmanager
def _reading_back() -> Iterator[None]:
    """Any failure to read the channel back, as a ReconcileError."""
    try:
        yield
    except RuntimeError as err:          # the bot token is not set
        raise ReconcileError(str(err), transient=False) from None
    except SlackApiError as err:
        status = _status(err)
        raise ReconcileError(describe_error(err), transient=status == 429 or status >= 500) from None
    except Exception as err:  # noqa: BLE001 - network: Slack unreachable
        raise ReconcileError(describe_error(err), transient=True) from None


def _retry_after(err: SlackApiError) -> float:
    headers = getattr(err.response, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 1.0


def _events_of(message: dict) -> list[int]:
    return list((message.get("metadata") or {}).get("event_payload", {}).get("events", []))


def _batch_of(message: dict) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT_TYPE:
        return None
    return (metadata.get("event_payload") or {}).get("batch")


class SlackWebhook:
    """An incoming webhook; its URL (a secret) is read from the named variable."""

    def __init__(self, settings: SlackSettings, env_name: str) -> None:
        self.settings = settings
        self.env_name = env_name

    def send(self, messages: list[SlackMessage]) -> SendResult:
        # No batch metadata: a webhook's messages can never be read back.
        result = SendResult()
        url = os.environ.get(self.env_name, "")
        if not url.startswith(("https://", "http://")):
            result.error = f"${self.env_name} is not set to an incoming-webhook URL"
            return result
        client = WebhookClient(url=url, timeout=int(self.settings.timeout_seconds),
                               retry_handlers=retry_handlers(self.settings))
        for message in messages:
            try:
                response = client.send(text=message.text, blocks=message.blocks,
                                       attachments=message.attachments or None,
                                       unfurl_links=False, unfurl_media=False)
            except Exception as err:  # noqa: BLE001 - network errors: retried later
                result.error = describe_error(err)
                return result
            if response.status_code != 200:
                result.error = f"webhook answered HTTP {response.status_code}: {response.body[:200]}"
                return result
            result.messages += 1
            result.delivered.extend(message.event_ids)
        return result
