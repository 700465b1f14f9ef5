"""The ``watch287g`` console script: option parsing, logging, error reporting.

Each command lives in its own module with a ``register(subparsers)`` function
that adds its parser and sets ``func(ctx, args) -> int``. Every failure a user
can cause reaches the terminal as one line (``watch287g: error: ...``) with a
non-zero exit code, never as a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys

from watch287g.command import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, Context, add_global_options
from watch287g.core import __version__, redact
from watch287g.core.config import ConfigError, load_config
from watch287g.core.errors import UserError

log = logging.getLogger("watch287g")


def _command_modules():
    from watch287g import (
        cmd_alerts,
        cmd_check,
        cmd_config,
        cmd_core,
        cmd_demo,
        cmd_report,
        cmd_service,
        cmd_slack,
        cmd_web,
    )

    return [cmd_core, cmd_check, cmd_demo, cmd_service, cmd_web, cmd_config, cmd_alerts, cmd_slack, cmd_report]


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's to fix (bad files, config, a busy lock):
    each layer raises its own type, all with one-line messages."""
    from watch287g.readers.xlsx import WorkbookError
    from watch287g.state.store import StoreError

    return (UserError, ConfigError, StoreError, WorkbookError)


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The parser, built once per process (parsing does not change it): the
    check server builds it before it forks its check children."""
    parser = argparse.ArgumentParser(
        prog="watch287g",
        description="Watch ICE's 287(g) agreement lists and state pages, and alert on real changes.",
        epilog="Docs: README.md and docs/ in the source tree. Exit codes: 0 ok, 1 a check or "
               "delivery failed, 2 bad input or config, 3 busy (another process holds the lock).",
    )
    parser.add_argument("--version", action="version", version=f"watch287g {__version__}")
    add_global_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        module.register(subparsers)
    return parser


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    redact.install(logging.getLogger())   # slack-sdk's debug log shows webhook URLs, which are secrets
    # Scrapy and Twisted log at INFO on their own; keep them one step quieter.
    for noisy in ("scrapy", "twisted", "filelock", "apscheduler", "slack_sdk", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING if verbose < 2 else logging.DEBUG))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.verbose, args.quiet)
    try:
        config = load_config(args.config)
        ctx = Context(config=config, data_dir=config.data_dir(args.data_dir), json=args.json,
                      progress=not (args.json or args.quiet) and sys.stderr.isatty())
        ctx.store().check_dir()
        return int(args.func(ctx, args) or EXIT_OK)
    except _user_errors() as err:
        print(f"watch287g: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("watch287g: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK  # `watch287g events | head` closed the pipe: not an error
    except Exception as err:  # noqa: BLE001 - last resort: one line, not a traceback
        if args.debug:
            raise
        print(f"watch287g: internal error: {type(err).__name__}: {err} (run with --debug for details)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
