"""What every command shares: the context it runs in, exit codes, and how a
command module registers itself (``register(subparsers)`` calling
``add_command``). The commands import this module, never ``cli.py``."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from watch287g.core.config import Config

EXIT_OK = 0
EXIT_FAILED = 1        # the command ran but something it checked failed
EXIT_USAGE = 2         # bad input: options, config, files
EXIT_BUSY = 3          # another process holds the lock
EXIT_INTERNAL = 70     # a bug: please report it with --debug output


@dataclass
class Context:
    """What every command gets: the loaded config and resolved paths."""

    config: Config
    data_dir: Path
    json: bool
    progress: bool       # draw progress on stderr (a terminal, not --json/--quiet)

    @cached_property
    def settings(self):
        """The config's typed settings, each section parsed on first use."""
        from watch287g.settings import Settings

        return Settings(self.config)

    def store(self):
        from watch287g.state.store import Store

        return Store(self.data_dir)

    def emit(self, payload) -> None:
        """Print a command's machine-readable result (with --json)."""
        print(json.dumps(payload, ensure_ascii=False, indent=None, default=str))


def add_global_options(parser: argparse.ArgumentParser, hidden: bool = False) -> None:
    """The options every command takes, before or after its name
    (``watch287g --json events`` and ``watch287g events --json``). After the
    name they are not repeated in the command's help, and an option given
    there wins over the same option given before it."""
    def option(*flags: str, help_text: str, **kwargs) -> None:
        if hidden:
            kwargs.update(default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        else:
            kwargs.setdefault("help", help_text)
        parser.add_argument(*flags, **kwargs)

    option("--config", metavar="FILE", help_text="config file (default: $WATCH287G_CONFIG, ./watch287g.toml, "
           "~/.config/watch287g/config.toml, else built-in defaults)")
    option("--data-dir", metavar="DIR", help_text="state folder (default: $WATCH287G_DATA_DIR, the config's "
           "data_dir, else ~/.local/share/watch287g)")
    option("--json", action="store_true", help_text="machine-readable output on stdout")
    option("-v", "--verbose", action="count", default=0, help_text="more log output (-vv: debug)")
    option("-q", "--quiet", action="store_true", help_text="only errors on stderr, no progress")
    option("--debug", action="store_true", help_text="show tracebacks for internal errors")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_command(subparsers, name: str, help_text: str, func) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    add_global_options(parser, hidden=True)
    parser.set_defaults(func=func)
    return parser
