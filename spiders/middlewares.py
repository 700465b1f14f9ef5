"""Downloader middlewares: conditional requests and retries with back-off."""

from __future__ import annotations

import datetime as dt
import email.utils

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CannotResolveHostError
from scrapy.utils.asyncio import sleep
from twisted.internet.error import DNSLookupError


class ConditionalRequestMiddleware:
    """Send If-None-Match / If-Modified-Since with the validators the server
    gave for this exact address last time (the spider's ``remembered``,
    kept in the state's "sources" table by the application step). Nothing is ever skipped on our side: a 200 is always hashed,
    and a server that gives no validators simply gets unconditional requests.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        role = request.meta.get("role")
        remembered = getattr(self.crawler.spider, "remembered", {}).get((request.meta.get("source"), role))
        if not remembered or remembered.get("url") != request.url:
            return None  # a new address (ICE dates its file names): nothing to compare with
        if remembered.get("etag"):
            request.headers[b"If-None-Match"] = remembered["etag"]
        if remembered.get("last_modified"):
            request.headers[b"If-Modified-Since"] = remembered["last_modified"]
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (RETRY_TIMES, RETRY_HTTP_CODES,
    RETRY_EXCEPTIONS), waiting before each retry: WATCH287G_RETRY_BACKOFF
    seconds, doubled at each further retry, at most WATCH287G_RETRY_BACKOFF_MAX,
    and at least what a 429/503's Retry-After asks for (within that maximum).
    Requests to a site go one at a time, so the wait gives the site a rest.
    A host name that does not resolve is not retried: offline, or a typo in
    the config, a check should say so at once."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("WATCH287G_RETRY_BACKOFF")
        self.backoff_max = settings.getfloat("WATCH287G_RETRY_BACKOFF_MAX")

    async def process_response(self, request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await sleep(self._delay(result, _retry_after(response.headers.get(b"Retry-After"))))
        return result

    async def process_exception(self, request, exception, spider=None):
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            return None   # a name that does not resolve will not resolve in 5 s either: fail fast
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await sleep(self._delay(result, None))
        return result

    def _delay(self, retry: Request, asked: float | None) -> float:
        delay = self.backoff * 2 ** (retry.meta.get("retry_times", 1) - 1)
        if asked is not None:
            delay = max(delay, asked)
        return min(delay, self.backoff_max)


def _retry_after(value: bytes | None) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), else None."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
