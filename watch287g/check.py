"""``watch287g check``: crawl the configured sources now, record what changed.

One check at a time: a lock file (``check.lock``, separate from the state
lock) is held for the whole crawl; a second check waits a few seconds, then
gives up with exit code 3. The crawl is a real Scrapy crawl in this process
(the Twisted reactor runs once per process: every check is a cold start).
The spiders fetch; the pipeline (spiders/pipelines.py) commits each source's
check in one atomic state write. After the crawl, unless told not to, the
outbox delivers what is due.

The config's ``[crawl]`` section sets the crawl's manners and limits, and
each ``[[sources]]`` entry one source (docs/sources.md, docs/spiders.md).
"""

from __future__ import annotations

import contextlib
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from watch287g.core import __version__
from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown
from watch287g.core.errors import BusyError, UserError
from watch287g.core.records import DEFAULT_FAILURES_BEFORE_ALERT, Source
from watch287g.readers.xlsx import DEFAULT_MAX_ROWS, Limits
from watch287g.state.policy import Policy
from watch287g.state.store import StateDB, Store

CHECK_LOCK = "check.lock"
SOURCE_TYPES = ("ice", "page")
FORMATS = ("xlsx", "html-table")
KINDS = ("participating", "pending")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SOURCE_KEYS = {"name", "type", "url", "format", "kind", "selector", "enabled", "failing_after"}
_CRAWL_KEYS = {"contact", "project_url", "download_delay", "timeout", "retries", "retry_backoff",
               "retry_backoff_max", "max_page_mb", "max_workbook_mb", "max_list_rows", "lock_wait"}
_MB = 1024 * 1024
_MAX_LIST_ROWS = 1_048_575  # a worksheet's rows, less the header


@dataclass(frozen=True)
class CrawlSettings:
    """The [crawl] section."""

    contact: str = ""
    project_url: str | None = None
    download_delay: float = 2.0
    timeout: float = 30.0
    retries: int = 2
    retry_backoff: float = 5.0
    retry_backoff_max: float = 60.0
    max_page_mb: float = 5.0
    max_workbook_mb: float = 20.0
    max_list_rows: int = DEFAULT_MAX_ROWS
    lock_wait: float = 5.0

    @classmethod
    def from_config(cls, config: Config) -> "CrawlSettings":
        table = config.section("crawl")
        where = "[crawl]"
        reject_unknown(table, _CRAWL_KEYS, where)
        d = cls()
        return cls(
            contact=get(table, "contact", str, d.contact, where).strip(),
            project_url=get(table, "project_url", str, None, where),
            download_delay=float(get_number(table, "download_delay", d.download_delay, where, 0, 600)),
            timeout=float(get_number(table, "timeout", d.timeout, where, 0.1, 3600)),
            retries=int(get_number(table, "retries", d.retries, where, 0, 10)),
            retry_backoff=float(get_number(table, "retry_backoff", d.retry_backoff, where, 0, 3600)),
            retry_backoff_max=float(get_number(table, "retry_backoff_max", d.retry_backoff_max, where, 0, 3600)),
            max_page_mb=float(get_number(table, "max_page_mb", d.max_page_mb, where, 0.01, 1024)),
            max_workbook_mb=float(get_number(table, "max_workbook_mb", d.max_workbook_mb, where, 0.01, 1024)),
            max_list_rows=int(get_number(table, "max_list_rows", d.max_list_rows, where, 1, _MAX_LIST_ROWS)),
            lock_wait=float(get_number(table, "lock_wait", d.lock_wait, where, 0, 3600)),
        )

    def workbook_limits(self) -> Limits:
        """What the workbook reader may be made to read."""
        return Limits(max_rows=self.max_list_rows)

    def user_agent(self) -> str:
        from watch287g.spiders.settings import PROJECT_URL

        about = "; ".join(part for part in (f"+{self.project_url or PROJECT_URL}", self.contact) if part)
        return f"watch287g/{__version__} ({about})"

    def scrapy_settings(self) -> dict:
        """Overrides of spiders/settings.py (docs/spiders.md maps each key)."""
        return {
            "USER_AGENT": self.user_agent(),
            "DOWNLOAD_DELAY": self.download_delay,
            "DOWNLOAD_TIMEOUT": self.timeout,
            "RETRY_TIMES": self.retries,
            "WATCH287G_RETRY_BACKOFF": self.retry_backoff,
            "WATCH287G_RETRY_BACKOFF_MAX": self.retry_backoff_max,
            "DOWNLOAD_MAXSIZE": int(self.max_page_mb * _MB),
            "WATCH287G_MAX_WORKBOOK_SIZE": int(self.max_workbook_mb * _MB),
        }


def load_sources(config: Config) -> list[Source]:
    """Every [[sources]] entry, checked (enabled or not)."""
    sources, seen = [], set()
    for index, table in enumerate(config.list_of_tables("sources"), start=1):
        where = f"[[sources]] #{index}"
        name = get(table, "name", str, None, where)
        if not name or not _NAME.match(name):
            raise ConfigError(f"{where}.name must be a short name of letters, digits, '-', '_' or '.', "
                              f"not {name!r}")
        where = f"[[sources]] {name!r}"
        if name in seen:
            raise ConfigError(f"{where}: two sources are named {name!r}")
        seen.add(name)
        reject_unknown(table, _SOURCE_KEYS, where)
        kind_of_source = get(table, "type", str, None, where)
        if kind_of_source not in SOURCE_TYPES:
            raise ConfigError(f"{where}.type must be one of {', '.join(SOURCE_TYPES)}, not {kind_of_source!r}")
        url = get(table, "url", str, "", where).strip()
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.url must be an http(s) address, not {url!r}")
        fmt = get(table, "format", str, None, where)
        if fmt is not None and fmt not in FORMATS:
            raise ConfigError(f"{where}.format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        kind = get(table, "kind", str, "participating", where)
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind must be participating or pending, not {kind!r}")
        selector = get(table, "selector", str, None, where)
        if selector is not None and kind_of_source != "page":
            raise ConfigError(f"{where}.selector only applies to type = \"page\" sources")
        sources.append(Source(
            name=name, type=kind_of_source, url=url, format=None if fmt == "xlsx" else fmt, kind=kind,
            selector=selector or None, enabled=get(table, "enabled", bool, True, where),
            failing_after=int(get_number(table, "failing_after", DEFAULT_FAILURES_BEFORE_ALERT, where, 1, 1000))))
    return sources


def select_sources(config: Config, name: str | None) -> list[Source]:
    sources = load_sources(config)
    if name:
        chosen = [s for s in sources if s.name == name]
        if not chosen:
            known = ", ".join(s.name for s in sources) or "none"
            raise UserError(f"no source named {name!r} in {config.origin} (configured: {known})")
        return chosen  # named explicitly: checked even when disabled
    chosen = [s for s in sources if s.enabled]
    if not chosen:
        raise UserError(f"no enabled [[sources]] in {config.origin}: nothing to check")
    return chosen


@dataclass
class CheckRun:
    """What the spiders, middlewares and pipeline of one check share."""

    config: Config
    policy: Policy
    store: Store
    dry_run: bool
    memory: dict[tuple[str, str], dict]         # table "sources" as it was before the crawl
    workbook_limits: Limits = Limits()
    results: list[dict] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def remembered(self, source: str, role: str) -> dict | None:
        """What the last good check kept about a source's page or list:
        address, validators, sha256, verdict."""
        return self.memory.get((source, role))

    @contextlib.contextmanager
    def session(self):
        """A write session; with --dry-run, a copy of the state that is
        never written."""
        if self.dry_run:
            yield self.store.read()
        else:
            with self.store.write() as db:
                yield db


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


def run_check(config: Config, data_dir: Path, source: str | None = None, dry_run: bool = False,
              notify: bool = True) -> dict:
    """Check the sources now. Returns {"ok", "dry_run", "message", "sources":
    [per-source result], "delivery"}; raises UserError/BusyError/ConfigError
    for what the user must fix."""
    sources = select_sources(config, source)
    crawl = CrawlSettings.from_config(config)
    policy = Policy.from_config(config)
    store = Store(data_dir)
    with check_lock(data_dir, crawl.lock_wait):
        run = CheckRun(config=config, policy=policy, store=store, dry_run=dry_run,
                       memory=_memory(store.read()) if store.exists() else {},
                       workbook_limits=crawl.workbook_limits())
        plan = [(spider, [s for s in sources if s.type == spider.source_type]) for spider in _spiders()]
        crawl_sources(run, [(spider, chosen) for spider, chosen in plan if chosen], crawl.scrapy_settings())
        if run.errors:
            raise run.errors[0]
        delivery = None
        if notify and not dry_run:
            from watch287g.alerts.outbox import deliver_due

            delivery = deliver_due(store, config)
    order = {s.name: i for i, s in enumerate(sources)}
    results = sorted(run.results, key=lambda r: order.get(r["source"], len(order)))
    failed = [r for r in results if not r["ok"]]
    message = "; ".join(f"{r['source']}: {r['message']}" for r in failed) or \
        "; ".join(f"{r['source']}: {r['message']}" for r in results)
    return {"ok": not failed, "dry_run": dry_run, "message": message, "sources": results, "delivery": delivery}


def _spiders() -> list[type]:
    from watch287g.spiders.ice import IceSpider
    from watch287g.spiders.state_page import StatePageSpider

    return [IceSpider, StatePageSpider]


def _memory(db: StateDB) -> dict[tuple[str, str], dict]:
    return {(doc["source"], doc["role"]): doc for doc in db.raw_table("sources").values()}


def crawl_sources(run: CheckRun, plan: list[tuple[type, list[Source]]], overrides: dict) -> None:
    """Run the spiders one after another in one reactor run. One after
    another, not together: two spiders could share a site (a state page on
    ice.gov), and a site must only ever see one request at a time from us."""
    from scrapy.settings import Settings
    from scrapy.utils.reactor import install_reactor

    settings = Settings()
    settings.setmodule("watch287g.spiders.settings", priority="project")
    settings.update(overrides, priority="cmdline")
    install_reactor(settings["TWISTED_REACTOR"])

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
            await runner.crawl(spider, run=run, sources=sources)

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
