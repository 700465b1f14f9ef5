"""The [web] section: where the web app listens, the address it is
published at, the variable holding its signing secret, rate limits and link
lifetimes (docs/configuration.md lists every key).

``public_url`` alone makes every subscriber e-mail carry signed links to
manage or stop its subscription (the process that delivers needs it, and
the secret, even when the web app is hosted apart); ``listen`` as well makes
``watch287g run`` serve the app itself. ``watch287g serve`` listens on
``listen``, or on 127.0.0.1:8287 when it is unset: the app only listens
beyond this machine when the operator writes another address.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from watch287g.alerts.links import LinkSettings
from watch287g.alerts.settings import check_env_name
from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8287
DEFAULT_SECRET_ENV = "WATCH287G_WEB_SECRET"
_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>[0-9]{1,5})$")
_KEYS = {"listen", "public_url", "secret_env", "signups_per_address_per_day", "signups_per_ip_per_hour",
         "confirm_link_hours", "manage_link_days", "report_dir", "proxy_hops", "threads"}


@dataclass(frozen=True)
class WebSettings:
    listen: tuple[str, int] | None = None       # (host, port) as configured; None: `run` serves nothing
    public_url: str | None = None               # https://alerts.example.org[/path], no trailing slash
    secret_env: str = DEFAULT_SECRET_ENV
    signups_per_address_per_day: int = 3
    signups_per_ip_per_hour: int = 20
    confirm_link_hours: float = 48
    manage_link_days: float = 30
    report_dir: Path | None = None              # the published report folder ([report] out_dir by default)
    proxy_hops: int = 0                         # reverse proxies whose X-Forwarded-For is trusted
    threads: int = 4

    @property
    def served_by_run(self) -> bool:
        return self.listen is not None and self.public_url is not None

    @property
    def address(self) -> tuple[str, int]:
        """Where ``serve`` listens."""
        return self.listen or (DEFAULT_HOST, DEFAULT_PORT)

    @property
    def url_prefix(self) -> str:
        """The path public_url adds ("" or "/alerts"): the app's routes live under it."""
        return urllib.parse.urlsplit(self.public_url or "").path

    @property
    def links(self) -> LinkSettings | None:
        if not self.public_url:
            return None
        return LinkSettings(self.public_url, self.secret_env, self.manage_link_days)

    @classmethod
    def from_config(cls, config: Config) -> WebSettings:
        table, where, d = config.section("web"), "[web]", cls()
        reject_unknown(table, _KEYS, where)
        listen = get(table, "listen", str, None, where)
        public_url = get(table, "public_url", str, None, where)
        report_dir = get(table, "report_dir", str, None, where) or _report_out_dir(config)
        return cls(
            listen=None if listen is None else parse_listen(listen, f"{where}.listen"),
            public_url=None if public_url is None else check_public_url(public_url, f"{where}.public_url"),
            secret_env=check_env_name(get(table, "secret_env", str, d.secret_env, where), f"{where}.secret_env"),
            signups_per_address_per_day=_whole(table, "signups_per_address_per_day",
                                               d.signups_per_address_per_day, where, 1, 100),
            signups_per_ip_per_hour=_whole(table, "signups_per_ip_per_hour", d.signups_per_ip_per_hour,
                                           where, 1, 10000),
            confirm_link_hours=float(get_number(table, "confirm_link_hours", d.confirm_link_hours, where,
                                                0.1, 24 * 30)),
            manage_link_days=float(get_number(table, "manage_link_days", d.manage_link_days, where, 1, 366)),
            report_dir=Path(os.path.expanduser(report_dir)) if report_dir else None,
            proxy_hops=_whole(table, "proxy_hops", d.proxy_hops, where, 0, 5),
            threads=_whole(table, "threads", d.threads, where, 1, 64),
        )


def _report_out_dir(config: Config) -> str | None:
    """[report] out_dir, the folder `run` writes the report to (its own
    section validates it); a value that is not text is ignored here."""
    value = config.section("report").get("out_dir")
    return value if isinstance(value, str) else None


def _whole(table: dict, key: str, default: int, where: str, minimum: int, maximum: int) -> int:
    value = get_number(table, key, default, where, minimum, maximum)
    if int(value) != value:
        raise ConfigError(f"{where}.{key} must be a whole number, not {value!r}")
    return int(value)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(text: str, where: str) -> tuple[str, int]:
    """"HOST:PORT", "[IPv6]:PORT", or a bare port (on 127.0.0.1)."""
    value = text.strip()
    if value.isdigit():
        host, port = DEFAULT_HOST, int(value)
    else:
        found = _LISTEN.match(value)
        if not found:
            raise ConfigError(f"{where} must be HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), not {text!r}")
        host, port = found.group("v6") or found.group("host"), int(found.group("port"))
    if not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port {port} is not between 1 and 65535")
    return host, port


def check_public_url(text: str, where: str) -> str:
    """An https address (http only on this machine, for tests), without
    query, fragment or trailing slash."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment \
            or any(ch in text for ch in "<>\"' "):
        raise ConfigError(f"{where} must be the app's public https:// address, such as "
                          f"https://alerts.example.org, not {text!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"{where} must use https: the links it starts carry tokens that stop and "
                          f"manage subscriptions ({text!r})")
    return text.strip().rstrip("/")
