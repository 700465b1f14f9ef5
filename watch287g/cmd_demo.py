"""``watch287g demo``: real checks against a local copy of ICE's site."""

from __future__ import annotations

from pathlib import Path

from watch287g.command import Context, add_command


def register(subparsers) -> None:
    add_command(subparsers, "demo",
                "run real checks against a local web server playing ICE's site with bundled real "
                "workbooks (offline; uses a temporary data dir unless --data-dir is given)", cmd_demo)


def cmd_demo(ctx: Context, args) -> int:
    from watch287g.demo import run_demo

    # Only an explicit --data-dir: the demo must never write into the
    # configured (real) state.
    chosen = getattr(args, "data_dir", None)
    return run_demo(Path(chosen).expanduser() if chosen else None)
