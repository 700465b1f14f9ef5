"""The alert layer's config sections, read and checked in one place.

[slack], [email], [outbox] and [operator] (docs/alerts.md lists every key and
its default). Secrets are never in the file: it names the environment
variables that hold the bot token, webhook URLs and the SMTP password.
The links e-mails carry come from ``[web]``, which the application parses
(watch287g/web/settings.py) and hands in as ``AlertSettings.links``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from watch287g.alerts.links import LinkSettings
from watch287g.core.config import Config, ConfigError, get, get_number, reject_unknown

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
EMAIL_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
SECURITY_MODES = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True)
class SlackSettings:
    bot_token_env: str = "SLACK_BOT_TOKEN"
    api_base_url: str = "https://slack.com/api/"
    timeout_seconds: float = 30
    rate_limit_retries: int = 3
    server_error_retries: int = 2
    connection_error_retries: int = 2
    inline_events: int = 3          # up to this many events: full cards, no thread
    events_per_reply: int = 10      # events per threaded reply / webhook section run


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = "WATCH287G_SMTP_PASSWORD"
    from_address: str = "watch287g@localhost"
    from_name: str = "watch287g"
    list_unsubscribe: str = ""      # mailto: or https: address; default mailto:from_address
    timeout_seconds: float = 30

    @property
    def unsubscribe_target(self) -> str:
        if self.list_unsubscribe:
            return self.list_unsubscribe
        return f"mailto:{self.from_address}?subject=unsubscribe"

    @property
    def message_id_domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1]


@dataclass(frozen=True)
class OutboxSettings:
    retry_base_seconds: float = 60
    retry_max_seconds: float = 6 * 3600
    failing_after_attempts: int = 5


@dataclass(frozen=True)
class OperatorSettings:
    slack_channel: str | None = None
    webhook_env: str | None = None
    email: str | None = None

    def destinations(self) -> list[str]:
        """Destination keys (see alerts.subscriptions) the operator reads."""
        found = []
        if self.slack_channel:
            found.append(f"slack:{self.slack_channel}")
        if self.webhook_env:
            found.append(f"webhook:{self.webhook_env}")
        if self.email:
            found.append(f"email:{self.email.lower()}")
        return found


@dataclass(frozen=True)
class AlertSettings:
    slack: SlackSettings
    email: EmailSettings
    outbox: OutboxSettings
    operator: OperatorSettings
    links: LinkSettings | None = None   # None: e-mails carry no web links ([web] public_url unset)

    @classmethod
    def from_config(cls, config: Config) -> AlertSettings:
        return cls(slack=_slack(config), email=_email(config), outbox=_outbox(config),
                   operator=_operator(config))


def check_env_name(value: str, where: str) -> str:
    if not ENV_NAME.match(value):
        raise ConfigError(f"{where} must name an environment variable (letters, digits, _), not {value!r}")
    return value


def check_channel(value: str, where: str) -> str:
    if not SLACK_CHANNEL_ID.match(value):
        # conversations.history (reconciliation) takes IDs only, not #names.
        raise ConfigError(f"{where} must be a Slack channel ID like C0123ABCD "
                          f"(channel details -> About -> Channel ID), not {value!r}")
    return value


def check_email(value: str, where: str, recipient: bool = True) -> str:
    """One plain address. A recipient's domain must be one mail can reach
    (a dotted name: "a@b" is a typo); the sender may be user@localhost."""
    if not EMAIL_ADDRESS.match(value) or (recipient and "." not in value.rsplit("@", 1)[1].strip(".")):
        raise ConfigError(f"{where} must be one plain e-mail address (user@example.org), not {value!r}")
    return value


def _int(table: dict, key: str, default: int, where: str, minimum: int, maximum: int | None = None) -> int:
    value = get_number(table, key, default, where, minimum=minimum, maximum=maximum)
    if int(value) != value:
        raise ConfigError(f"{where}.{key} must be a whole number, not {value!r}")
    return int(value)


def _slack(config: Config) -> SlackSettings:
    table, where, d = config.section("slack"), "[slack]", SlackSettings()
    reject_unknown(table, set(SlackSettings.__dataclass_fields__), where)
    base = get(table, "api_base_url", str, d.api_base_url, where)
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}.api_base_url must be an http(s) address, not {base!r}")
    return SlackSettings(
        bot_token_env=check_env_name(get(table, "bot_token_env", str, d.bot_token_env, where),
                                     f"{where}.bot_token_env"),
        api_base_url=base if base.endswith("/") else base + "/",
        timeout_seconds=get_number(table, "timeout_seconds", d.timeout_seconds, where, minimum=1),
        rate_limit_retries=_int(table, "rate_limit_retries", d.rate_limit_retries, where, 0, 10),
        server_error_retries=_int(table, "server_error_retries", d.server_error_retries, where, 0, 10),
        connection_error_retries=_int(table, "connection_error_retries", d.connection_error_retries,
                                      where, 0, 10),
        inline_events=_int(table, "inline_events", d.inline_events, where, 1, 10),
        events_per_reply=_int(table, "events_per_reply", d.events_per_reply, where, 1, 20),
    )


def _email(config: Config) -> EmailSettings:
    table, where, d = config.section("email"), "[email]", EmailSettings()
    reject_unknown(table, set(EmailSettings.__dataclass_fields__), where)
    security = get(table, "security", str, d.security, where)
    if security not in SECURITY_MODES:
        raise ConfigError(f"{where}.security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    unsubscribe = get(table, "list_unsubscribe", str, d.list_unsubscribe, where)
    if unsubscribe and (urllib.parse.urlsplit(unsubscribe).scheme not in ("mailto", "https", "http")
                        or any(ch in unsubscribe for ch in "<>\r\n ")):
        raise ConfigError(f"{where}.list_unsubscribe must be a mailto: or http(s): address, not {unsubscribe!r}")
    from_name = get(table, "from_name", str, d.from_name, where)
    if any(not ch.isprintable() for ch in from_name):
        raise ConfigError(f"{where}.from_name must be printable text")
    return EmailSettings(
        smtp_host=get(table, "smtp_host", str, d.smtp_host, where),
        smtp_port=_int(table, "smtp_port", SECURITY_MODES[security], where, 1, 65535),
        security=security,
        username=get(table, "username", str, d.username, where),
        password_env=check_env_name(get(table, "password_env", str, d.password_env, where),
                                    f"{where}.password_env"),
        from_address=check_email(get(table, "from_address", str, d.from_address, where),
                                 f"{where}.from_address", recipient=False),
        from_name=from_name,
        list_unsubscribe=unsubscribe,
        timeout_seconds=get_number(table, "timeout_seconds", d.timeout_seconds, where, minimum=1),
    )


def _outbox(config: Config) -> OutboxSettings:
    table, where, d = config.section("outbox"), "[outbox]", OutboxSettings()
    reject_unknown(table, set(OutboxSettings.__dataclass_fields__), where)
    base = get_number(table, "retry_base_seconds", d.retry_base_seconds, where, minimum=0)
    return OutboxSettings(
        retry_base_seconds=base,
        retry_max_seconds=get_number(table, "retry_max_seconds", d.retry_max_seconds, where, minimum=base),
        failing_after_attempts=_int(table, "failing_after_attempts", d.failing_after_attempts, where, 1),
    )


def _operator(config: Config) -> OperatorSettings:
    table, where = config.section("operator"), "[operator]"
    reject_unknown(table, set(OperatorSettings.__dataclass_fields__), where)
    channel = get(table, "slack_channel", str, None, where)
    webhook = get(table, "webhook_env", str, None, where)
    address = get(table, "email", str, None, where)
    return OperatorSettings(
        slack_channel=channel and check_channel(channel, f"{where}.slack_channel"),
        webhook_env=webhook and check_env_name(webhook, f"{where}.webhook_env"),
        email=address and check_email(address, f"{where}.email"),
    )
