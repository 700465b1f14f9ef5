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


def _add_common(parser: argparse.ArgumentParser) -> None:
    """Let --data-dir/--json also follow the command (``watch287g events --json``)."""
    parser.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_command(subparsers, name: str, help_text: str, func) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    _add_common(parser)
    parser.set_defaults(func=func)
    return parser
