"""The [service] section: when each source is checked, when digests go out,
and the service's time limits — parsed whole, so ``watch287g config check``
and ``watch287g run`` refuse the same mistakes with the same one-line errors.

Schedules are cron expressions: five fields (minute hour day month weekday)
or six (second first, for tests). Weekdays must be names (``mon-fri``): cron
counts Sunday as 0 but APScheduler 3 counts Monday as 0, and a silent
off-by-one day would be worse than a refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown
from watch287g.core.records import Source

# ICE updates its lists in US business hours: every 15 minutes then, hourly
# otherwise (18:00 is the first hourly check of the evening).
DEFAULT_SCHEDULE = ("*/15 8-17 * * mon-fri", "0 0-7,18-23 * * mon-fri", "0 * * * sat,sun")
DEFAULT_TIMEZONE = "America/New_York"
# Days without a new accepted list before the operator hears about it. In 2025
# ICE's participating list never went 10 days unchanged; the pending list is
# quieter, and goes weeks.
DEFAULT_STALE_AFTER_DAYS = {"participating": 10.0, "pending": 30.0}

SERVICE_KEYS = {"timezone", "schedule", "interval_seconds", "jitter_seconds", "misfire_grace_seconds",
                "check_timeout_seconds", "shutdown_grace_seconds", "deliver_every_seconds",
                "heartbeat_seconds", "daily_digest", "weekly_digest", "stale_after_days", "sources"}
SOURCE_KEYS = {"schedule", "stale_after_days", "check_timeout_seconds"}
_CRON_FIELDS_5 = ("minute", "hour", "day", "month", "day_of_week")
_CRON_FIELDS_6 = ("second", *_CRON_FIELDS_5)


@dataclass(frozen=True)
class SourceSchedule:
    name: str
    failing_after: int
    schedule: tuple[str, ...]
    stale_after_days: dict[str, float]     # list kind -> days; a kind not named is never stale
    check_timeout_seconds: float


@dataclass(frozen=True)
class ServiceSettings:
    timezone: str = DEFAULT_TIMEZONE
    sources: tuple[SourceSchedule, ...] = ()
    interval_seconds: float = 0            # > 0: every source every N seconds (tests, benchmarks)
    jitter_seconds: float = 60
    misfire_grace_seconds: float = 600
    shutdown_grace_seconds: float = 60
    deliver_every_seconds: float = 60
    heartbeat_seconds: float = 30
    daily_digest: str | None = "0 8 * * *"
    weekly_digest: str | None = "0 8 * * mon"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def source(self, name: str) -> SourceSchedule:
        for entry in self.sources:
            if entry.name == name:
                return entry
        raise ConfigError(f"no source named {name!r} (configured: {', '.join(self.source_names())})")

    def source_names(self) -> list[str]:
        return [entry.name for entry in self.sources]

    def check_trigger(self, source: SourceSchedule):
        """The trigger for one source's checks (jittered: many installs
        should not hit ICE's server in the same second)."""
        jitter = int(self.jitter_seconds) or None
        if self.interval_seconds:
            return IntervalTrigger(seconds=self.interval_seconds, timezone=self.tz, jitter=jitter)
        triggers = [cron_trigger(expr, self.tz, "") for expr in source.schedule]
        return OrTrigger(triggers, jitter=jitter)

    def digest_trigger(self, cadence: str):
        expr = self.daily_digest if cadence == "daily" else self.weekly_digest
        return cron_trigger(expr, self.tz, "") if expr else None

    @classmethod
    def from_config(cls, config: Config, entries: list[Source]) -> "ServiceSettings":
        """Parse [service] for the configured [[sources]] ``entries``
        (watch287g.settings.load_sources)."""
        table = config.section("service")
        where = "[service]"
        reject_unknown(table, SERVICE_KEYS, where)
        timezone = get(table, "timezone", str, DEFAULT_TIMEZONE, where)
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.timezone: unknown time zone {timezone!r} "
                              f"(use an IANA name such as America/New_York)") from None
        schedule = _schedule(table, "schedule", DEFAULT_SCHEDULE, tz, where)
        stale = _stale_days(table, DEFAULT_STALE_AFTER_DAYS, where)
        timeout = get_number(table, "check_timeout_seconds", 900, where, minimum=1)

        source_names = [entry.name for entry in entries]
        overrides = get(table, "sources", dict, {}, where)
        for name, value in overrides.items():
            if name not in source_names:
                raise ConfigError(f"{where}.sources.{name}: no [[sources]] entry is named {name!r} "
                                  f"(configured: {', '.join(source_names) or 'none'})")
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.sources.{name} must be a table")
            reject_unknown(value, SOURCE_KEYS, f"{where}.sources.{name}")
        sources = []
        for entry in entries:       # disabled ones too: their overrides are checked, not scheduled
            own = overrides.get(entry.name, {})
            own_where = f"{where}.sources.{entry.name}"
            sources.append(SourceSchedule(
                name=entry.name,
                failing_after=entry.failing_after,
                schedule=_schedule(own, "schedule", schedule, tz, own_where),
                stale_after_days=_stale_days(own, stale, own_where),
                check_timeout_seconds=float(get_number(own, "check_timeout_seconds", timeout, own_where,
                                                       minimum=1)),
            ))
        enabled = {entry.name for entry in entries if entry.enabled}
        return cls(
            timezone=timezone,
            sources=tuple(source for source in sources if source.name in enabled),
            interval_seconds=float(get_number(table, "interval_seconds", 0, where, minimum=0)),
            jitter_seconds=float(get_number(table, "jitter_seconds", 60, where, minimum=0)),
            misfire_grace_seconds=float(get_number(table, "misfire_grace_seconds", 600, where, minimum=1)),
            shutdown_grace_seconds=float(get_number(table, "shutdown_grace_seconds", 60, where, minimum=0)),
            deliver_every_seconds=float(get_number(table, "deliver_every_seconds", 60, where, minimum=1)),
            heartbeat_seconds=float(get_number(table, "heartbeat_seconds", 30, where, minimum=1)),
            daily_digest=_digest(table, "daily_digest", "0 8 * * *", tz, where),
            weekly_digest=_digest(table, "weekly_digest", "0 8 * * mon", tz, where),
        )


def cron_trigger(expr: str, tz: ZoneInfo, where: str) -> CronTrigger:
    """A CronTrigger from five or six cron fields; ConfigError names ``where``."""
    fields = expr.split()
    prefix = f"{where}: " if where else ""
    if len(fields) not in (5, 6):
        raise ConfigError(f"{prefix}{expr!r} is not a cron expression: it needs 5 fields "
                          f"(minute hour day month weekday) or 6 (second first)")
    names = _CRON_FIELDS_5 if len(fields) == 5 else _CRON_FIELDS_6
    values = dict(zip(names, fields))
    if re.search(r"\d", values["day_of_week"]):
        raise ConfigError(f"{prefix}{expr!r}: write weekdays as names (mon-fri, sat,sun), not numbers: "
                          f"cron and APScheduler number them differently")
    try:
        return CronTrigger(timezone=tz, **values)
    except ValueError as err:
        raise ConfigError(f"{prefix}{expr!r} is not a valid cron expression: {err}") from None


def _schedule(table: dict, key: str, default: tuple[str, ...], tz: ZoneInfo, where: str) -> tuple[str, ...]:
    value = get(table, key, (list, str), default, where)
    exprs = (value,) if isinstance(value, str) else tuple(value)
    if not exprs:
        raise ConfigError(f"{where}.{key} must name at least one cron expression")
    for expr in exprs:
        if not isinstance(expr, str):
            raise ConfigError(f"{where}.{key} must be a list of cron strings, not {expr!r}")
        cron_trigger(expr, tz, f"{where}.{key}")
    return exprs


def _digest(table: dict, key: str, default: str, tz: ZoneInfo, where: str) -> str | None:
    """A cron expression, or false / "" to send no such digest."""
    value = get(table, key, (str, bool), default, where)
    if value is True:
        raise ConfigError(f"{where}.{key} must be a cron expression or false, not true")
    if value is False or value == "":
        return None
    cron_trigger(value, tz, f"{where}.{key}")
    return value


def _stale_days(table: dict, base: dict[str, float], where: str) -> dict[str, float]:
    """``base`` with the table's {list kind: days} on top; 0 or false
    switches a kind's staleness alert off."""
    value = get(table, "stale_after_days", dict, None, where)
    chosen = dict(base)
    if value is None:
        return chosen
    inner = f"{where}.stale_after_days"
    for kind, days in value.items():
        if days is False or days == 0:
            chosen.pop(kind, None)
            continue
        chosen[kind] = float(get_number(value, kind, None, inner, minimum=0))
    return chosen


def service_settings(config: Config) -> ServiceSettings:
    """[service] for the configured [[sources]]: every enabled source is scheduled."""
    from watch287g.settings import load_sources

    return ServiceSettings.from_config(config, load_sources(config))
