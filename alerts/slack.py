"""Posting to Slack with slack-sdk: bot token channels and incoming webhooks.

Both clients retry by themselves on 429 (sleeping Retry-After), on 500/503
and on dropped connections (slack-sdk's built-in retry handlers); what still
fails comes back as a ``SendResult`` error and the outbox retries it later.

Every bot message carries metadata naming its batch token and the events it
delivers, so after a crash the outbox can read the channel back
(conversations.history / conversations.replies) and learn what was posted.
Incoming webhooks cannot be read back: see docs/alerts.md.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

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


@dataclass
class SendResult:
    delivered: list[int] = field(default_factory=list)   # event ids in fully posted messages
    messages: int = 0
    error: str | None = None
    permanent: bool = False     # the destination refused for good (an e-mail address the server rejects)


class ReconcileError(Exception):
    """Could not read the channel back. ``transient``: Slack was unreachable
    or overloaded (try later); otherwise Slack refused (e.g. missing scope)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def retry_handlers(settings: SlackSettings) -> list:
    return [RateLimitErrorRetryHandler(max_retry_count=settings.rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=settings.server_error_retries),
            ConnectionErrorRetryHandler(max_retry_count=settings.connection_error_retries)]


def describe_error(err: Exception) -> str:
    if isinstance(err, SlackApiError):
        status = getattr(err.response, "status_code", "?")
        detail = err.response.get("error") if hasattr(err.response, "get") else None
        return f"Slack answered HTTP {status}: {detail or 'error'}"
    return f"{type(err).__name__}: {err}"


def _metadata(token: str, event_ids: list[int]) -> dict:
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"batch": token, "events": event_ids}}


class SlackChannel:
    """A channel posted to with the bot token (SLACK_BOT_TOKEN by default)."""

    def __init__(self, settings: SlackSettings, channel: str) -> None:
        self.settings = settings
        self.channel = channel

    def _client(self) -> WebClient:
        token = os.environ.get(self.settings.bot_token_env)
        if not token:
            raise RuntimeError(f"${self.settings.bot_token_env} is not set (the Slack bot token)")
        return WebClient(token=token, base_url=self.settings.api_base_url,
                         timeout=int(self.settings.timeout_seconds), retry_handlers=retry_handlers(self.settings))

    def send(self, messages: list[SlackMessage], token: str) -> SendResult:
        result = SendResult()
        try:
            client = self._client()
            thread_ts = None
            for message in messages:
                response = client.chat_postMessage(
                    channel=self.channel, text=message.text, blocks=message.blocks,
                    thread_ts=thread_ts if message.in_thread else None,
                    metadata=_metadata(token, message.event_ids), unfurl_links=False, unfurl_media=False)
                thread_ts = thread_ts or response["ts"]
                result.messages += 1
                result.delivered.extend(message.event_ids)
        except Exception as err:  # noqa: BLE001 - any failure leaves the rest for a retry
            result.error = describe_error(err)
        return result

    def find_delivered(self, token: str, since: dt.datetime) -> set[int] | None:
        """Events that messages of this batch delivered, read back from the
        channel; None if the batch's first message is not there."""
        try:
            client = self._client()
            first = self._find_first(client, token, since)
            if first is None:
                return None
            delivered = set(first.get("metadata", {}).get("event_payload", {}).get("events", []))
            if first.get("reply_count") or first.get("thread_ts"):
                delivered |= self._thread_events(client, token, first["ts"])
            return delivered
        except RuntimeError as err:
            raise ReconcileError(str(err), transient=False) from None
        except SlackApiError as err:
            status = getattr(err.response, "status_code", 0)
            raise ReconcileError(describe_error(err), transient=status == 429 or status >= 500) from None
        except Exception as err:  # noqa: BLE001 - network: Slack unreachable
            raise ReconcileError(describe_error(err), transient=True) from None

    def _find_first(self, client: WebClient, token: str, since: dt.datetime) -> dict | None:
        oldest = f"{since.timestamp() - _HISTORY_SLACK_SECONDS:.6f}"
        cursor = None
        for _ in range(_HISTORY_PAGES):
            page = client.conversations_history(channel=self.channel, oldest=oldest, limit=200,
                                                include_all_metadata=True, cursor=cursor)
            for message in page.get("messages", []):
                if _batch_of(message) == token:
                    return message
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        return None

    def _thread_events(self, client: WebClient, token: str, ts: str) -> set[int]:
        found: set[int] = set()
        cursor = None
        for _ in range(_HISTORY_PAGES):
            page = client.conversations_replies(channel=self.channel, ts=ts, limit=200,
                                                include_all_metadata=True, cursor=cursor)
            for message in page.get("messages", []):
                if _batch_of(message) == token:
                    found.update(message["metadata"]["event_payload"].get("events", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
        return found


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
