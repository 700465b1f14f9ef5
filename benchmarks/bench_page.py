"""Benchmark: reading ICE's page (parse + read_page) as its links grow.

read_page finds each list link's heading in one walk over the document, so
the time per link stays flat; it used to look back from every link, and a
page with 10,000 links took 151 s.

    python benchmarks/bench_page.py [--links 1000 10000 30000]
"""

from __future__ import annotations

import argparse
import platform
import time

from watch287g.readers.ice_page import read_page, soup_of
from watch287g.testing.pages import ice_page_with_links

URL = "https://www.ice.gov/identify-and-arrest/287g"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, nargs="+", default=[1_000, 10_000, 30_000])
    args = parser.parse_args()
    print(f"{platform.machine()} CPython {platform.python_version()}")
    print("| links | parse (s) | read_page (s) | read_page per link (µs) |")
    print("|---|---|---|---|")
    for count in args.links:
        html = ice_page_with_links(count)
        started = time.perf_counter()
        soup = soup_of(html)
        parsed = time.perf_counter()
        page = read_page(soup, URL)
        done = time.perf_counter()
        assert page.links["participating"] and page.links["pending"]
        print(f"| {count:,} | {parsed - started:.2f} | {done - parsed:.2f} | {(done - parsed) / count * 1e6:.0f} |")


if __name__ == "__main__":
    main()
