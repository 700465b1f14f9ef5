"""``watch287g config check|show|init``: the one configuration file.

``check`` runs every layer's own parser over the file — the same code the
commands run at start-up — so a file that passes here is one the service
will accept. Each layer stops at its first mistake; ``check`` reports the
first mistake of every layer, one line each.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from watch287g.command import Context, add_command
from watch287g.core.config import (
    Config,
    ConfigError,
    default_config_text,
    load_config,
    reject_unknown,
)
from watch287g.core.errors import UserError


def _validators() -> list[tuple[str, object]]:
    """(what, function of the Config) for every layer that reads the file."""
    from watch287g.alerts.settings import AlertSettings
    from watch287g.alerts.subscriptions import config_subscriptions
    from watch287g.schedule import service_settings
    from watch287g.settings import CrawlSettings, load_sources
    from watch287g.slackapp.settings import SlackAppSettings
    from watch287g.site.settings import ReportSettings
    from watch287g.state.policy import Policy
    from watch287g.web.settings import WebSettings

    return [
        ("sections", check_sections),
        ("[gate] [debounce]", Policy.from_config),
        ("[crawl]", CrawlSettings.from_config),
        ("[[sources]]", load_sources),
        ("[service]", service_settings),
        ("[slack] [email] [outbox] [operator]", AlertSettings.from_config),
        ("[[subscriptions]]", config_subscriptions),
        ("[web]", WebSettings.from_config),
        ("[slack_app]", SlackAppSettings.from_config),
        ("[report]", ReportSettings.from_config),
    ]



def known_sections() -> set[str]:
    """Top-level names a config may use: the default file's, plus the
    sections that are optional and so absent from it."""
    return set(tomllib.loads(default_config_text())) | {"watch287g", "gate", "debounce", "crawl", "sources",
                                                        "service", "slack", "email", "outbox", "operator",
                                                        "subscriptions", "web", "slack_app", "report"}


def check_sections(config: Config) -> None:
    unknown = sorted(set(config.raw) - known_sections())
    if unknown:
        raise ConfigError(f"{config.origin}: unknown section [{unknown[0]}] "
                          f"(known: {', '.join(sorted(known_sections()))})")
    reject_unknown(config.section("watch287g"), {"data_dir"}, "[watch287g]")


def check_config(config: Config, data_dir: Path | None = None, secrets: bool = True) -> dict:
    """{"config": origin, "checked": [...], "errors": [one line per layer
    that refused, and per secret a configured destination needs but the
    environment lacks]}."""
    errors, checked = [], []
    for what, validate in _validators():
        checked.append(what)
        try:
            validate(config)
        except ConfigError as err:
            errors.append(_with_origin(str(err), config))
    if secrets and not errors:
        checked.append("secrets in the environment")
        errors.extend(_missing_secrets(config, data_dir))
    return {"config": config.origin, "ok": not errors, "checked": checked, "errors": errors}


def refuse_invalid_config(config: Config, data_dir: Path) -> bool:
    """For commands that start long-running work (``run``, ``serve``):
    print what `config check` refuses (secrets aside: the caller decides),
    one line each, and say whether it refused anything."""
    result = check_config(config, data_dir, secrets=False)
    for line in result["errors"]:
        print(f"watch287g: error: {line}", file=sys.stderr)
    return not result["ok"]


def _missing_secrets(config: Config, data_dir: Path | None) -> list[str]:
    """Secrets that the configured destinations (the config's subscriptions,
    the operator's, and those stored in the data dir) and the Slack app need."""
    from watch287g.alerts.subscriptions import stored_subscriptions
    from watch287g.alerts.transports import missing_secrets
    from watch287g.settings import Settings
    from watch287g.state.store import Store, StoreError

    settings = Settings(config)
    destinations = [s.destination for s in settings.subscriptions] + settings.alerts.operator.destinations()
    if data_dir is not None:
        try:
            store = Store(data_dir)
            if store.exists():
                destinations += [s.destination for s in stored_subscriptions(store.read()) if s.delivers]
        except StoreError as err:
            return [str(err)]
    app = settings.slack_app.missing_secrets(settings.alerts.slack.bot_token_env) if settings.slack_app else []
    return [f"{line}: deliveries to it will fail" for line in missing_secrets(settings.alerts, destinations)] \
        + app + _missing_web_secret(settings)


def _missing_web_secret(settings) -> list[str]:
    """[web] public_url signs links with a secret: without it, e-mails to
    stored subscriptions wait and the web app cannot start."""
    from watch287g.core.tokens import SecretError, secret_from_env

    if not settings.web.public_url:
        return []
    try:
        secret_from_env(settings.web.secret_env)
    except SecretError as err:
        return [f"[web] public_url is set but {err}; until it is, e-mails to stored subscriptions wait "
                f"and the web app cannot start"]
    return []


def _with_origin(message: str, config: Config) -> str:
    """Layers name the key; some also name the file. Say the file once."""
    return message if message.startswith(config.origin) else f"{config.origin}: {message}"


def register(subparsers) -> None:
    parser = add_command(subparsers, "config", "check, show or create the configuration file", _no_action)
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION")
    check = add_command(actions, "check", "validate every section of the config file (exit 2 on errors)",
                        cmd_check)
    check.add_argument("--file", type=Path, metavar="F",
                       help="the file to check (default: the config the other commands would use)")
    add_command(actions, "show", "print which config file is in effect, the data dir, and the file", cmd_show)
    init = add_command(actions, "init", "write the documented default config to PATH, to edit", cmd_init)
    init.add_argument("path", type=Path, metavar="PATH")
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    parser.set_defaults(config_parser=parser)


def _no_action(ctx: Context, args) -> int:
    args.config_parser.print_help(sys.stderr)
    return 2


def cmd_check(ctx: Context, args) -> int:
    config = load_config(args.file) if args.file else ctx.config
    result = check_config(config, ctx.data_dir)
    if ctx.json:
        ctx.emit(result)
    elif result["ok"]:
        print(f"{config.origin}: OK ({'; '.join(result['checked'])})")
    else:
        for line in result["errors"]:
            print(f"watch287g: error: {line}", file=sys.stderr)
    return 0 if result["ok"] else 2


def cmd_show(ctx: Context, args) -> int:
    text = ctx.config.path.read_text(encoding="utf-8") if ctx.config.path else default_config_text()
    if ctx.json:
        ctx.emit({"config": ctx.config.origin, "data_dir": str(ctx.data_dir), "text": text})
        return 0
    print(f"# config:   {ctx.config.origin}")
    print(f"# data dir: {ctx.data_dir}")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_init(ctx: Context, args) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        raise UserError(f"{path} exists; use --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(default_config_text(), encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write {path}: {err}") from None
    print(f"wrote {path}; edit it, then `watch287g --config {path} config check`")
    return 0
