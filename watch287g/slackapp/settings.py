"""The [slack_app] section: how ``watch287g run`` hosts the Slack app.

Absent section: no Slack app (alerts still go out through [slack]). Secrets
are never in the file: it names the variables holding the app-level token
(Socket Mode) or the signing secret (HTTP mode); the bot token is
``[slack] bot_token_env``, shared with the alerts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

from watch287g.alerts.settings import check_env_name
from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown

SECTION = "slack_app"
MODES = ("socket", "http")
# Users (U..., W... on Enterprise Grid) and user groups (S...).
ADMIN_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class SlackAppSettings:
    mode: str = "socket"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    listen: str = "127.0.0.1:3000"
    check_every_minutes: float = 10
    admins: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return _LISTEN.match(self.listen)["host"].strip("[]")

    @property
    def port(self) -> int:
        return int(_LISTEN.match(self.listen)["port"])

    @property
    def secret_env(self) -> str:
        """The variable this mode needs besides the bot token."""
        return self.app_token_env if self.mode == "socket" else self.signing_secret_env

    def missing_secrets(self, bot_token_env: str, environ: Mapping[str, str] = os.environ) -> list[str]:
        """One line per secret the app needs that the environment lacks."""
        needed = [(bot_token_env, "the bot token (xoxb-…)"),
                  (self.secret_env, "the app-level token (xapp-…)" if self.mode == "socket"
                   else "the signing secret")]
        return [f"[slack_app] mode = \"{self.mode}\" needs {what} in ${name}, which is not set"
                for name, what in needed if not environ.get(name)]

    @classmethod
    def from_config(cls, config: Config) -> SlackAppSettings | None:
        """None when the config has no [slack_app] section."""
        if SECTION not in config.raw:
            return None
        table, where, d = config.section(SECTION), f"[{SECTION}]", cls()
        reject_unknown(table, set(cls.__dataclass_fields__), where)
        mode = get(table, "mode", str, d.mode, where)
        if mode not in MODES:
            raise ConfigError(f"{where}.mode must be \"socket\" or \"http\", not {mode!r}")
        listen = get(table, "listen", str, d.listen, where)
        found = _LISTEN.match(listen)
        if not found or not 1 <= int(found["port"]) <= 65535:
            raise ConfigError(f"{where}.listen must be HOST:PORT (e.g. \"127.0.0.1:3000\"), not {listen!r}")
        admins = get(table, "admins", list, [], where)
        for admin in admins:
            if not isinstance(admin, str) or not ADMIN_ID.match(admin):
                raise ConfigError(f"{where}.admins must list Slack user IDs (U0123ABCD) or user group IDs "
                                  f"(S0123ABCD), not {admin!r}")
        return cls(
            mode=mode,
            app_token_env=check_env_name(get(table, "app_token_env", str, d.app_token_env, where),
                                         f"{where}.app_token_env"),
            signing_secret_env=check_env_name(get(table, "signing_secret_env", str, d.signing_secret_env, where),
                                              f"{where}.signing_secret_env"),
            listen=listen,
            check_every_minutes=float(get_number(table, "check_every_minutes", d.check_every_minutes, where,
                                                 0, 1440)),
            admins=tuple(dict.fromkeys(admins)),
        )


