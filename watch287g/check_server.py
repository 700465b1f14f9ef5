"""The service's check server: Scrapy, the spiders and the commit step
imported once, a check forked from it on request.

The service (watch287g/check_runner.py) starts it once, as

    python -P -m watch287g.check_server FD

and each check is a child forked from it (watch287g/forkserver.py) that runs
``watch287g --data-dir DIR -q check --source NAME --json --no-notify``
through ``watch287g.cli.main``, exactly as the cold command would: same
config reading, same check lock, same atomic commit, same JSON report and
exit code. Only the imports are done ahead. The Twisted reactor is not
installed here (Scrapy's modules import without one); each child installs
and runs its own, as a cold check does.
"""

from __future__ import annotations

import importlib
import socket
import sys

from watch287g import forkserver
from watch287g.spiders.tls_modules import import_tls_modules

# What a check imports, loaded once here so that no child pays for it: the
# CLI and its commands, the check and commit steps, the spiders and readers.
PRELOADED = (
    "watch287g.cli", "watch287g.cmd_check", "watch287g.check", "watch287g.commit", "watch287g.report",
    "watch287g.spiders.ice", "watch287g.spiders.state_page", "watch287g.spiders.middlewares",
    "watch287g.spiders.pipelines", "watch287g.readers.workbook", "watch287g.readers.html_table",
    "watch287g.readers.pages", "bs4", "scrapy.crawler",
)
# Scrapy settings that name one component class a crawl builds (no disk
# queues: a check keeps no JOBDIR), and those that name several.
SCRAPY_COMPONENT = (
    "DOWNLOADER", "SCHEDULER", "SCHEDULER_PRIORITY_QUEUE", "SCHEDULER_MEMORY_QUEUE",
    "SCHEDULER_START_MEMORY_QUEUE", "DUPEFILTER_CLASS", "STATS_CLASS", "LOG_FORMATTER", "SPIDER_LOADER_CLASS",
    "REQUEST_FINGERPRINTER_CLASS", "ROBOTSTXT_PARSER", "DNS_RESOLVER", "ITEM_PROCESSOR",
)
SCRAPY_COMPONENT_ORDERS = ("EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "ITEM_PIPELINES")


def preload() -> None:
    """Import what a check needs, without installing a reactor."""
    for name in PRELOADED:
        importlib.import_module(name)
    import_tls_modules()
    from scrapy.utils.misc import load_object

    from watch287g.check import scrapy_settings
    from watch287g.cli import build_parser

    build_parser()      # imports every command module; the children reuse the parser
    settings = scrapy_settings({})
    paths = [settings[name] for name in SCRAPY_COMPONENT]
    paths += list(settings.getwithbase("DOWNLOAD_HANDLERS").values())
    for name in SCRAPY_COMPONENT_ORDERS:
        paths += [path for path, order in settings.getwithbase(name).items() if order is not None]
    for path in paths:
        if path:
            load_object(path)


def run_cli(argv: list[str]) -> int:
    """``watch287g ARGV`` in this (forked) process; its exit code."""
    from watch287g.cli import main

    try:
        return int(main(argv) or 0)
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -P -m watch287g.check_server FD (started by `watch287g run`, not by hand)",
              file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(args[0]))
    preload()
    forkserver.serve(sock, run_cli)
    return 0


if __name__ == "__main__":
    sys.exit(main())
