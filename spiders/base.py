"""What every watch287g spider shares: a base spider that fetches a
source's documents one after another (the items are in spiders/items.py).

A check of a source is a short chain of requests (ICE: the page, then the
participating workbook, then the pending one). The chain carries one
``SourceCheck`` from step to step; any step may fail — an HTTP error, a
timeout, a block page — and the failure is recorded on the check while the
chain goes on, so the check always reaches the pipeline whole. Requests are
chained rather than fired together so that a site only ever sees one request
at a time from us (with DOWNLOAD_DELAY between them).

Spiders get three arguments from ``watch287g check``: ``sources`` (the
configured sources of the spider's type), ``remembered`` (what earlier checks
kept per (source, role): address, validators, the page's reading) and
``collected`` (the list the pipeline appends each finished check to).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from http import HTTPStatus
from typing import Callable, Iterator

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from watch287g.core.records import Fetch, Source, SourceCheck, sha256_hex
from watch287g.core.sizes import human_size
from watch287g.core.timeutil import now_iso

# Every status reaches the callbacks, which turn errors into a failed check;
# 3xx stays out of the list so RedirectMiddleware still follows redirects.
HANDLED_STATUSES = [304, *range(400, 600)]
_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<\?xml[^>]*>\s*<html)", re.I)
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([\w!#$%&+^`{}~-]+)'[^']*'([^;\s]+)", re.I)
_FILENAME = re.compile(r'filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.I)
_MAX_FILE_NAME = 200
# One line per source as its check starts (`watch287g check` shows these).
progress = logging.getLogger("watch287g.check")


class BaseSpider(scrapy.Spider):
    """Fetches each source's page, then whatever the subclass queues."""

    source_type: str = ""

    def __init__(self, sources: list[Source] | None = None, remembered: dict | None = None,
                 collected: list | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sources = list(sources or [])
        self.remembered: dict[tuple[str, str], dict] = remembered or {}
        self.collected: list[SourceCheck] = collected if collected is not None else []
        self.open_checks: dict[str, SourceCheck] = {}

    async def start(self):
        for source in self.sources:
            progress.info("checking %s: %s", source.name, source.url)
            check = SourceCheck(source=source, started_at=now_iso())
            self.open_checks[source.name] = check
            yield self.request(check, "page", source.url, self.parse_page)

    def parse_page(self, response, check: SourceCheck):
        raise NotImplementedError

    # -- the chain ---------------------------------------------------------

    def request(self, check: SourceCheck, role: str, url: str, callback: Callable, *,
                maxsize: int | None = None, **cb_kwargs) -> scrapy.Request:
        meta = {"source": check.source.name, "role": role, "handle_httpstatus_list": HANDLED_STATUSES}
        if maxsize:
            meta["download_maxsize"] = maxsize
        # dont_filter: ICE once served the same file behind both links, and a
        # filtered duplicate would silently end the chain.
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta, dont_filter=True,
                              cb_kwargs={"check": check, **cb_kwargs})

    def then(self, check: SourceCheck, request: scrapy.Request) -> None:
        """Queue a request to make after the current one."""
        check.steps.append(request)

    def advance(self, check: SourceCheck) -> Iterator:
        """The next queued request, or the finished check."""
        if check.steps:
            yield check.steps.pop(0)
            return
        check.finished_at = now_iso()
        self.open_checks.pop(check.source.name, None)
        yield check

    def failed(self, failure):
        """Errback: record why the download failed, then carry on."""
        request = failure.request
        check = request.cb_kwargs["check"]
        role = request.meta["role"]
        message = self.failure_message(failure.value, request)
        check.fetched.append(Fetch(role=role, url=request.url, fetched_at=now_iso(), error=message))
        check.failures.append(f"{role}: {message}")
        yield from self.advance(check)

    # -- what a response says --------------------------------------------

    def fetched(self, check: SourceCheck, role: str, response, url: str | None = None) -> Fetch:
        """Record a response on the check. Returns the Fetch; a non-200/304
        status is also recorded as a failure of the check."""
        headers = response.headers
        fetch = Fetch(
            role=role, url=url or response.request.url, fetched_at=now_iso(), status=response.status,
            final_url=response.url, size=len(response.body), etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"), content_type=_header(headers, b"Content-Type"),
        )
        if response.status == 200 and role == "page":
            fetch.sha256 = sha256_hex(response.body)
        check.fetched.append(fetch)
        if response.status not in (200, 304):
            fetch.error = f"HTTP {response.status} {_reason(response.status)} from {response.url}"
            check.failures.append(f"{role}: {fetch.error}")
        return fetch

    def provenance(self, check: SourceCheck, fetch: Fetch, file_url: str, **extra) -> dict:
        """Where a list came from, as its snapshot keeps it: the page, the
        file's address before and after redirects, the HTTP exchange."""
        return {"page_url": check.source.url, "file_url": file_url, "final_url": fetch.final_url,
                "http_status": fetch.status, "etag": fetch.etag, "last_modified": fetch.last_modified,
                "fetched_at": fetch.fetched_at, **extra}

    def remember(self, check: SourceCheck, fetch: Fetch, record: dict | None = None) -> None:
        """Keep a page's validators (and what it said) for the next check's
        conditional request. Only the server's own ETag/Last-Modified are
        echoed back; without them the next request is unconditional, and
        the body's sha256 and final address tell whether it changed."""
        check.remember.append({"role": fetch.role, "url": fetch.url, "etag": fetch.etag,
                               "last_modified": fetch.last_modified, "sha256": fetch.sha256,
                               "final_url": fetch.final_url, "record": record})

    def failure_message(self, error: BaseException, request: scrapy.Request) -> str:
        tries = request.meta.get("retry_times", 0) + 1
        after = f" (after {tries} tries)" if tries > 1 else ""
        host = urllib.parse.urlsplit(request.url).hostname
        if isinstance(error, IgnoreRequest) and "robots.txt" in str(error):
            return f"{request.url} is disallowed by the site's robots.txt"
        if isinstance(error, (DownloadTimeoutError, TwistedTimeoutError)):
            timeout = request.meta.get("download_timeout") or self.settings.getfloat("DOWNLOAD_TIMEOUT")
            return f"no response within {timeout:g} s from {request.url}{after}"
        if isinstance(error, (CannotResolveHostError, DNSLookupError)):
            return f"cannot resolve host {host}{after}"
        if isinstance(error, (DownloadConnectionRefusedError, ConnectError)):
            return f"cannot connect to {host}{after}"
        if isinstance(error, DownloadCancelledError):
            limit = request.meta.get("download_maxsize") or self.settings.getint("DOWNLOAD_MAXSIZE")
            return f"{request.url} is larger than the {human_size(limit)} limit"
        if isinstance(error, ResponseDataLossError):
            return f"the download of {request.url} was cut short{after}"
        text = " ".join(str(error).split()) or type(error).__name__
        return f"download of {request.url} failed: {text[:200]}{after}"


def looks_like_html(body: bytes) -> bool:
    """An HTML page where a file was expected (a CDN's block page, a login
    wall): a fetch failure, not a list the reader should try."""
    return bool(_HTML_START.match(body[:512]))


def file_name(response) -> str | None:
    """The publisher's file name: Content-Disposition's filename* (RFC 6266:
    it wins over filename), then filename, then the last path segment of the
    final URL."""
    disposition = _header(response.headers, b"Content-Disposition") or ""
    name = None
    star = _FILENAME_STAR.search(disposition)
    if star:
        charset, value = star.groups()
        try:
            name = urllib.parse.unquote(value, encoding=charset, errors="replace")
        except LookupError:
            name = urllib.parse.unquote(value, errors="replace")
    if not name:
        plain = _FILENAME.search(disposition)
        if plain:
            name = plain.group(1) if plain.group(1) is not None else plain.group(2)
            name = re.sub(r"\\(.)", r"\1", name)
    if not name:
        name = urllib.parse.unquote(urllib.parse.urlsplit(response.url).path.rsplit("/", 1)[-1])
    return _safe_name(name)


def _safe_name(name: str) -> str | None:
    # The name ends up in alerts and file listings: no paths, no control characters.
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:_MAX_FILE_NAME] or None


def _header(headers, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1").strip() if value else None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
