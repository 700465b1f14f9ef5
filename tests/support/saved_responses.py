"""Drive a spider in-process on saved responses (city-scrapers style).

No reactor, no socket: the spider is built on a real Scrapy ``Crawler`` with
the project's settings and the [crawl] overrides ``watch287g check`` applies;
each request it makes is answered with a ``Response`` built from saved bytes
(or with the exception Scrapy's downloader would raise), and its callback or
errback is called the way the engine calls it. What goes over the wire —
robots.txt, timeouts, size limits, retries, real 304s — is tested by the few
crawls against the local server marked ``e2e``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy.settings import Settings as ScrapySettings
from twisted.python.failure import Failure
from watch287g.core.config import Config
from watch287g.core.records import SourceCheck
from watch287g.spiders.middlewares import ConditionalRequestMiddleware
from watch287g.state.store import Store

from tests.support.checks import TEST_CRAWL
from watch287g.commit import Committer
from watch287g.settings import Settings


@dataclass
class Saved:
    """One saved HTTP answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None        # where the redirects ended, when there were any


def settings_for(sources: list[dict], **crawl) -> Settings:
    """Typed settings, as `watch287g check` parses them from a config file."""
    return Settings(Config({"crawl": {**TEST_CRAWL, **crawl}, "sources": sources}, None))


def spider_for(spider_cls: type, settings: Settings, remembered: dict | None = None):
    """The spider for ``settings``' sources of its type, on a crawler that
    has the project's Scrapy settings (but never starts)."""
    scrapy_settings = ScrapySettings()
    scrapy_settings.setmodule("watch287g.spiders.settings", priority="project")
    scrapy_settings.update(settings.crawl.scrapy_settings(), priority="cmdline")
    crawler = Crawler(spider_cls, scrapy_settings)
    sources = [s for s in settings.sources if s.type == spider_cls.source_type]
    spider = spider_cls.from_crawler(crawler, sources=sources, remembered=remembered or {})
    crawler.spider = spider
    return spider


def response_to(request: Request, saved: Saved) -> Response:
    """What the downloader hands the callback for ``saved``: the response
    class Scrapy picks from the headers, tied to the request that got it (the
    redirected copy, with the same meta and cb_kwargs, after a redirect)."""
    url = saved.final_url or request.url
    if url != request.url:
        request = request.replace(url=url)
    cls = responsetypes.from_args(headers=saved.headers, url=url, body=saved.body)
    return cls(url=url, status=saved.status, headers=saved.headers, body=saved.body, request=request)


def call_back(request: Request, answer: Saved | BaseException) -> list:
    """Everything the request's callback (or errback) yields for ``answer``."""
    if isinstance(answer, BaseException):
        failure = Failure(answer)
        failure.request = request          # as Scrapy hands download errors to errbacks
        return list(request.errback(failure) or [])
    return list(request.callback(response_to(request, answer), **request.cb_kwargs))


class SavedCrawl:
    """One check of a spider's sources, every request answered from
    ``answers`` (address -> Saved, or the exception the download raised).

    Requests pass the project's ConditionalRequestMiddleware first, as they
    do on their way to the downloader, so ``requests`` shows the conditional
    headers a check would send."""

    def __init__(self, spider_cls: type, settings: Settings, answers: dict[str, Saved | BaseException],
                 remembered: dict | None = None) -> None:
        self.spider = spider_for(spider_cls, settings, remembered)
        self.answers = answers
        self.requests: list[Request] = []

    def run(self) -> list[SourceCheck]:
        conditional = ConditionalRequestMiddleware.from_crawler(self.spider.crawler)
        queue = first_requests(self.spider)
        checks = []
        while queue:
            request = queue.pop(0)
            conditional.process_request(request)
            self.requests.append(request)
            if request.url not in self.answers:
                raise AssertionError(f"the spider asked for {request.url}, which the test did not save")
            for output in call_back(request, self.answers[request.url]):
                if isinstance(output, Request):
                    queue.append(output)
                elif isinstance(output, SourceCheck):
                    checks.append(output)
                else:
                    raise AssertionError(f"the spider yielded {output!r}")
        assert not self.spider.open_checks, "a chain ended without handing its check over"
        return checks

    def check(self) -> SourceCheck:
        """The one source's check."""
        [check] = self.run()
        return check


class StoredChecks:
    """Checks of one spider's sources into a real store in ``data_dir``, as
    `watch287g check` runs them: what earlier checks remembered goes into the
    spider, the saved answers come back, the application step commits."""

    def __init__(self, spider_cls: type, settings: Settings, data_dir: Path) -> None:
        self.spider_cls = spider_cls
        self.settings = settings
        self.store = Store(data_dir)
        self.last: SavedCrawl | None = None

    def run(self, answers: dict[str, Saved | BaseException]) -> dict:
        """One check; returns what `watch287g check --json` reports for the source."""
        remembered = self.store.read().sources.remembered() if self.store.exists() else {}
        self.last = SavedCrawl(self.spider_cls, self.settings, answers, remembered)
        return Committer(self.settings, self.store).commit_check(self.last.check())


def first_requests(spider) -> list[Request]:
    """The requests the spider starts with (one per source)."""
    async def collect() -> list[Request]:
        return [request async for request in spider.start()]
    return asyncio.run(collect())
