"""Benchmark: one cold `watch287g check` of ICE's page, as cron or the service runs it.

Each run is a fresh child process (``python -m watch287g.cli check``: a real
Scrapy crawl, reactor start-up included) against a local server that serves
the real 2025 page capture and real workbooks (from watch287g/demo_data).
Wall time is measured around the child; CPU time (user + system) and peak
RSS are the child's own (``os.wait4``). On a busy machine wall time
varies; CPU time much less. Cases:

* ``unchanged-304``: the server honours If-None-Match: page and both
  workbooks answer 304; only a check record is written.
* ``unchanged-hash``: the server gives no validators: everything is
  downloaded again and hashed; same sha256, so no snapshot is written.
* ``changed``: both workbooks are new (27 March 2 p.m. -> 8 p.m.): two
  downloads, two reads, gate, diff, events, one state write.

Targets on the project's 2-core machine: unchanged under 1.0 s, changed
under 1.5 s (median).

    python benchmarks/bench_check.py [--runs 7]

Results go to benchmarks/out/check.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from watch287g.testing.fake_site import LocalServer

ROOT = Path(__file__).resolve().parent.parent

DEMO = ROOT / "watch287g" / "demo_data"
LISTS = {
    "before": ("participatingAgencies-20250327140009.xlsx", "pendingAgencies-20250327140009.xlsx"),
    "after": ("participatingAgencies-20250327195954.xlsx", "pendingAgencies-20250327195954.xlsx"),
}
TARGETS = {"unchanged-304": 1.0, "unchanged-hash": 1.0, "changed": 1.5}


def serve(server: LocalServer, lists: str, validators: bool) -> None:
    page = gzip.decompress((DEMO / "ice-287g-2025-06-06.html.gz").read_bytes())
    for kind in ("participating", "pending"):
        page = page.replace(f"https://www.ice.gov/doclib/about/offices/ero/287g/{kind}Agencies06052025pm.xlsx"
                            .encode(), f"/doclib/{kind}Agencies.xlsx".encode())
    for path, body in (("/identify-and-arrest/287g", page),
                       ("/doclib/participatingAgencies.xlsx", (DEMO / LISTS[lists][0]).read_bytes()),
                       ("/doclib/pendingAgencies.xlsx", (DEMO / LISTS[lists][1]).read_bytes())):
        tag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if validators else None
        server.route(path, body=body, etag=tag)


def check(config: Path, data: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one cold check."""
    argv = [sys.executable, "-m", "watch287g.cli", "-q", "--config", str(config), "--data-dir", str(data),
            "check", "--no-notify"]
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"check failed ({child.returncode}): {child.stderr.read().decode()}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench(server: LocalServer, work: Path, case: str, runs: int) -> dict:
    config = work / "config.toml"
    config.write_text(f'[crawl]\ncontact = "benchmark"\ndownload_delay = 0\nretries = 0\n\n'
                      f'[[sources]]\nname = "ice"\ntype = "ice"\nurl = "{server.url("/identify-and-arrest/287g")}"\n')
    validators = case != "unchanged-hash"
    baseline = work / f"baseline-{case}"
    serve(server, "before", validators)
    check(config, baseline)
    times, cpu, rss = [], [], []
    for run in range(runs):
        data = work / f"{case}-{run}"
        shutil.copytree(baseline, data)     # every run starts from the same state
        serve(server, "after" if case == "changed" else "before", validators)
        seconds, cpu_seconds, peak = check(config, data)
        times.append(seconds)
        cpu.append(cpu_seconds)
        rss.append(peak)
    return {"case": case, "runs": runs, "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3), "max_s": round(max(times), 3),
            "median_cpu_s": round(statistics.median(cpu), 3),
            "peak_rss_mb": round(max(rss), 1), "target_s": TARGETS[case],
            "ok": statistics.median(times) < TARGETS[case]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    server = LocalServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
            results = [bench(server, Path(scratch), case, args.runs) for case in TARGETS]
    finally:
        server.close()
    report = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count()}, "results": results}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "check.json").write_text(json.dumps(report, indent=2) + "\n")
    print("| case | runs | median wall s | min s | max s | median CPU s | peak RSS MB | target s | ok |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['runs']} | {r['median_s']} | {r['min_s']} | {r['max_s']} | {r['median_cpu_s']} | "
              f"{r['peak_rss_mb']} | < {r['target_s']} | {'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
