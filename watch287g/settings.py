"""Settings: the config file parsed once, at the edge, into typed records.

The CLI, the service, the Slack app and the web app build one ``Settings``
from the loaded config and pass its typed parts down: the crawl's manners,
the sources, the differ's policy, the alert settings and the config file's
own subscriptions. Each section is parsed on first use, by the layer that
owns its shape (``Policy.from_config``, ``AlertSettings.from_config``...),
and kept: a command never fails on a section it does not use, and every
error names the exact key. Stored subscriptions are data, not settings:
they are read from the state in each write session.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from dataclasses import dataclass
from functools import cached_property

from watch287g.alerts.settings import AlertSettings
from watch287g.alerts.subscriptions import Subscription, config_subscriptions
from watch287g.core import __version__
from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown
from watch287g.core.errors import UserError
from watch287g.core.records import DEFAULT_FAILURES_BEFORE_ALERT, Source
from watch287g.readers.xlsx import Limits
from watch287g.site.settings import ReportSettings
from watch287g.slackapp.settings import SlackAppSettings
from watch287g.state.policy import Policy
from watch287g.web.settings import WebSettings

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
    max_workbook_mb: float = Limits().max_file_bytes / _MB
    max_list_rows: int = Limits().max_rows
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

    @property
    def max_workbook_bytes(self) -> int:
        return int(self.max_workbook_mb * _MB)

    def workbook_limits(self) -> Limits:
        """The workbook reader's bounds, for live checks and replays alike."""
        return Limits(max_file_bytes=self.max_workbook_bytes, max_rows=self.max_list_rows)

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
            "WATCH287G_MAX_WORKBOOK_SIZE": self.max_workbook_bytes,
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


class Settings:
    """Every section of one config file, each parsed once on first use."""

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def origin(self) -> str:
        return self.config.origin

    @cached_property
    def crawl(self) -> CrawlSettings:
        return CrawlSettings.from_config(self.config)

    @cached_property
    def sources(self) -> tuple[Source, ...]:
        return tuple(load_sources(self.config))

    @cached_property
    def policy(self) -> Policy:
        return Policy.from_config(self.config)

    @cached_property
    def alerts(self) -> AlertSettings:
        """[slack] [email] [outbox] [operator], and the links e-mails carry
        when [web] public_url is set."""
        return dataclasses.replace(AlertSettings.from_config(self.config), links=self.web.links)

    @cached_property
    def web(self) -> WebSettings:
        return WebSettings.from_config(self.config)

    @cached_property
    def slack_app(self) -> SlackAppSettings | None:
        """[slack_app]; None when the Slack app is not configured."""
        return SlackAppSettings.from_config(self.config)

    @cached_property
    def report(self) -> ReportSettings:
        return ReportSettings.from_config(self.config)

    @cached_property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The config file's [[subscriptions]] (the stored ones are data)."""
        return tuple(config_subscriptions(self.config))

    def select_sources(self, name: str | None) -> list[Source]:
        if name:
            chosen = [s for s in self.sources if s.name == name]
            if not chosen:
                known = ", ".join(s.name for s in self.sources) or "none"
                raise UserError(f"no source named {name!r} in {self.origin} (configured: {known})")
            return chosen  # named explicitly: checked even when disabled
        chosen = [s for s in self.sources if s.enabled]
        if not chosen:
            raise UserError(f"no enabled [[sources]] in {self.origin}: nothing to check")
        return chosen
