"""``watch287g check``: crawl the configured sources now, record what changed.

One check at a time: a lock file (``check.lock``, separate from the state
lock) is held for the whole crawl; a second check waits a few seconds, then
gives up with exit code 3. The crawl is a real Scrapy crawl in this process
(the Twisted reactor runs once per process: every check is a cold start).
The spiders fetch and hand each source's check over; the application step
(watch287g/commit.py) then commits each source's check in one atomic state
write. After that, unless told not to, the outbox delivers what is due.

The config's ``[crawl]`` section sets the crawl's manners and limits, and
each ``[[sources]]`` entry one source (docs/sources.md, docs/spiders.md).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from filelock import FileLock, Timeout

from watch287g.commit import Committer
from watch287g.core.errors import BusyError
from watch287g.core.records import Source, SourceCheck
from watch287g.settings import Settings
from watch287g.state.store import Store

CHECK_LOCK = "check.lock"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def check_lock(data_dir: Path, wait: float):
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / CHECK_LOCK))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise BusyError(f"another `watch287g check` is running on {data_dir} (waited {wait:g} s); "
                        "try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()


def run_check(settings: Settings, data_dir: Path, source: str | None = None, dry_run: bool = False,
              notify: bool = True) -> dict:
    """Check the sources now. Returns {"ok", "dry_run", "message", "sources":
    [per-source result], "delivery"}; raises UserError/BusyError/ConfigError
    for what the user must fix."""
    sources = settings.select_sources(source)
    crawl = settings.crawl
    store = Store(data_dir)
    store.check_usable()
    with check_lock(data_dir, crawl.lock_wait):
        remembered = store.read().sources.remembered() if store.exists() else {}
        plan = [(spider, [s for s in sources if s.type == spider.source_type]) for spider in _spiders()]
        collected: list[SourceCheck] = []
        crawl_sources([(spider, chosen) for spider, chosen in plan if chosen], remembered, collected,
                      crawl.scrapy_settings())
        committer = Committer(settings, store, dry_run=dry_run)
        results = []
        for check in collected:
            result = committer.commit_check(check)
            log.info("%s: %s", result["source"], result["message"])
            results.append(result)
        delivery = None
        if notify and not dry_run:
            from watch287g.alerts.outbox import deliver_due

            delivery = deliver_due(store, settings.alerts, settings.subscriptions)
    order = {s.name: i for i, s in enumerate(sources)}
    results.sort(key=lambda r: order.get(r["source"], len(order)))
    failed = [r for r in results if not r["ok"]]
    message = "; ".join(f"{r['source']}: {r['message']}" for r in failed) or \
        "; ".join(f"{r['source']}: {r['message']}" for r in results)
    return {"ok": not failed, "dry_run": dry_run, "message": message, "sources": results, "delivery": delivery}


def _spiders() -> list[type]:
    from watch287g.spiders.ice import IceSpider
    from watch287g.spiders.state_page import StatePageSpider

    return [IceSpider, StatePageSpider]


def scrapy_settings(overrides: dict):
    """Scrapy's settings for a crawl: spiders/settings.py, then ``overrides``
    (the config's [crawl] section)."""
    from scrapy.settings import Settings as ScrapySettings

    settings = ScrapySettings()
    settings.setmodule("watch287g.spiders.settings", priority="project")
    # A check names its spider classes: Scrapy's own loader would only walk
    # SPIDER_MODULES (kept for `scrapy list`) to find them again.
    settings.set("SPIDER_LOADER_CLASS", "scrapy.spiderloader.DummySpiderLoader", priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def crawl_sources(plan: list[tuple[type, list[Source]]], remembered: dict, collected: list[SourceCheck],
                  overrides: dict) -> None:
    """Run the spiders one after another in one reactor run. One after
    another, not together: two spiders could share a site (a state page on
    ice.gov), and a site must only ever see one request at a time from us."""
    from scrapy.utils.reactor import install_reactor

    from watch287g.spiders.tls_modules import import_tls_modules

    settings = scrapy_settings(overrides)
    install_reactor(settings["TWISTED_REACTOR"])
    import_tls_modules()

    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor
    from twisted.python import log as twisted_log

    # Twisted's own messages go to the "twisted" logger, under the CLI's levels.
    twisted_log.PythonLoggingObserver("twisted").start()
    _quiet_scrapy_errors()
    runner = AsyncCrawlerRunner(settings)
    outcome: dict = {}

    async def crawl_all() -> None:
        for spider, sources in plan:
            await runner.crawl(spider, sources=sources, remembered=remembered, collected=collected)

    def finished(result) -> None:
        outcome["result"] = result
        reactor.stop()

    reactor.callWhenRunning(lambda: deferred_from_coro(crawl_all()).addBoth(finished))
    reactor.run()
    if "result" not in outcome:
        raise KeyboardInterrupt  # the reactor was stopped by a signal
    if hasattr(outcome["result"], "raiseException"):
        outcome["result"].raiseException()


def _quiet_scrapy_errors() -> None:
    """Scrapy logs a failed robots.txt download with a traceback. The check
    reports every failure as one line; show Scrapy's own account only with -v."""
    if logging.getLogger("scrapy").getEffectiveLevel() > logging.INFO:
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
