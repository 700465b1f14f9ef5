"""Benchmark: one cold `watch287g check` beside urlwatch doing the same requests.

Each run is a fresh process (``python -P -m watch287g.cli check
--no-notify``: a real Scrapy crawl, reactor start-up included) against a
server on 127.0.0.1 that serves the real 2025 page capture and real
workbooks (watch287g/demo_data); right next to it, in turn, urlwatch in a
fresh process fetches the same four addresses (robots.txt, the page, both
workbooks) with the same conditional headers. urlwatch is the floor: a
small watcher with no Scrapy. It is installed in its own venv under
benchmarks/out/ (made on first use; pip needs PyPI). Both run with no
download delay; the benchmark checks that both made the same requests.

Every run of either starts from the same saved state (copied outside the
timed part). Wall time is measured around the process; CPU time (user +
system) and peak RSS are the process's own (``os.wait4``). The two
alternate (A B, then B A), and the ratio is taken pair by pair, so a
machine that speeds up or slows down mid-benchmark moves both. Cases:

* ``unchanged-304``: the server honours If-None-Match: page and both
  workbooks answer 304; only a check record is written.
* ``unchanged-hash``: the server gives no validators: everything is
  downloaded again and hashed; same sha256, so no snapshot is written.
* ``changed``: both workbooks are new (27 March 2 p.m. -> 8 p.m.): two
  downloads, two reads, gate, diff, events, one state write. urlwatch
  hashes the two workbooks (its ``sha1sum`` filter) and reports them changed.

Targets (median of the pair ratios): unchanged at most 2.5x urlwatch,
changed at most 3x.

    python benchmarks/bench_check.py [--runs 9]

watch287g runs as a user installs it: ``pip install`` of this checkout
(not editable, byte-compiled by pip) into its own venv under
benchmarks/out/, made on first use and refreshed from the checkout at each
run of the benchmark. An editable install puts an import hook in front of
every import of the crawl (Scrapy's and Twisted's hundreds of modules
included), which no installed copy has. Results go to benchmarks/out/check.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import functools
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
from watch287g.testing.pages import DEMO_LIST_PATHS, DEMO_PAGE_PATH, serve_demo_capture

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
URLWATCH_VENV = OUT / "urlwatch-venv"
URLWATCH = "urlwatch==2.29"
WATCH287G_VENV = OUT / "watch287g-venv"

LISTS = {
    "before": ("participatingAgencies-20250327140009.xlsx", "pendingAgencies-20250327140009.xlsx"),
    "after": ("participatingAgencies-20250327195954.xlsx", "pendingAgencies-20250327195954.xlsx"),
}
TARGETS = {"unchanged-304": 2.5, "unchanged-hash": 2.5, "changed": 3.0}


def serve(server: LocalServer, lists: str, validators: bool) -> None:
    serve_demo_capture(server, *LISTS[lists], validators=validators)


def urlwatch_bin() -> Path:
    """urlwatch in its own venv, installed on first use."""
    binary = URLWATCH_VENV / "bin" / "urlwatch"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(URLWATCH_VENV)], check=True)
        subprocess.run([str(URLWATCH_VENV / "bin" / "pip"), "install", "-q", URLWATCH], check=True)
    return binary


@functools.cache
def watch287g_python() -> Path:
    """This checkout installed (not editable) in its own venv: dependencies on
    first use, our package again on every run so it is the checkout's code."""
    python = WATCH287G_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WATCH287G_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
                   check=True)
    return python


class Tool:
    """One side of the comparison: its command, and the state it starts from."""

    def __init__(self, name: str, work: Path) -> None:
        self.name, self.work = name, work

    def argv(self, state: Path) -> list[str]:
        raise NotImplementedError

    def run(self, state: Path) -> dict:
        """Run once on ``state``: wall and CPU seconds, peak RSS in MiB."""
        started = time.perf_counter()
        child = subprocess.Popen(self.argv(state), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.work)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{self.name} failed ({code}): {child.stderr.read().decode()[-2000:]}")
        child.stderr.close()
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}


class Watch287g(Tool):
    def __init__(self, work: Path, server: LocalServer) -> None:
        super().__init__("watch287g", work)
        self.python = watch287g_python()
        self.config = work / "config.toml"
        self.config.write_text(f'[crawl]\ncontact = "benchmark"\ndownload_delay = 0\nretries = 0\n\n'
                               f'[[sources]]\nname = "ice"\ntype = "ice"\nurl = "{server.url(DEMO_PAGE_PATH)}"\n')

    def argv(self, state: Path) -> list[str]:
        return [str(self.python), "-P", "-m", "watch287g.cli", "-q", "--config", str(self.config),
                "--data-dir", str(state), "check", "--no-notify"]


class Urlwatch(Tool):
    def __init__(self, work: Path, server: LocalServer) -> None:
        super().__init__("urlwatch", work)
        self.binary = urlwatch_bin()
        jobs = [{"name": "robots", "url": server.url("/robots.txt")},
                {"name": "page", "url": server.url(DEMO_PAGE_PATH)}]
        jobs += [{"name": Path(path).stem, "url": server.url(path), "filter": [{"sha1sum": None}]}
                 for path in DEMO_LIST_PATHS.values()]
        self.urls = work / "urls.yaml"
        self.urls.write_text("\n---\n".join(json.dumps(job) for job in jobs) + "\n")   # JSON is YAML

    def argv(self, state: Path) -> list[str]:
        return [str(self.binary), "--urls", str(self.urls), "--config", str(self.work / "urlwatch.yaml"),
                "--hooks", str(self.work / "hooks.py"), "--cache", str(state / "cache.db")]


def requests_made(server: LocalServer) -> list[tuple[str, bool]]:
    """(path, conditional) of every request since the log was cleared."""
    return sorted((seen.path, "if-none-match" in seen.headers) for seen in server.requests)


def bench(server: LocalServer, work: Path, case: str, runs: int) -> dict:
    validators = case != "unchanged-hash"
    tools = [Watch287g(work, server), Urlwatch(work, server)]
    baselines = {}
    serve(server, "before", validators)
    for tool in tools:
        baselines[tool.name] = work / f"baseline-{case}-{tool.name}"
        baselines[tool.name].mkdir()
        tool.run(baselines[tool.name])
    samples: dict[str, list[dict]] = {tool.name: [] for tool in tools}
    requests: dict[str, list] = {}
    for run in range(runs):
        for tool in tools if run % 2 == 0 else tools[::-1]:
            state = work / f"{case}-{tool.name}-{run}"
            shutil.copytree(baselines[tool.name], state)      # every run starts from the same state
            serve(server, "after" if case == "changed" else "before", validators)
            server.clear_log()
            samples[tool.name].append(tool.run(state))
            requests[tool.name] = requests_made(server)
    if requests["watch287g"] != requests["urlwatch"]:
        raise SystemExit(f"{case}: the two made different requests: {requests}")
    ours, floor = samples["watch287g"], samples["urlwatch"]
    result = {"case": case, "runs": runs, "requests": requests["watch287g"], "target_ratio": TARGETS[case]}
    for tool, rows in samples.items():
        result[tool] = {f"median_{key}": round(statistics.median(row[key] for row in rows), 3)
                        for key in ("wall", "cpu", "rss")}
    for key in ("wall", "cpu"):
        ratios = [a[key] / b[key] for a, b in zip(ours, floor)]
        result[f"ratio_{key}"] = {"median": round(statistics.median(ratios), 2), "min": round(min(ratios), 2),
                                  "max": round(max(ratios), 2)}
    result["ok"] = result["ratio_wall"]["median"] <= TARGETS[case]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    server = LocalServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
            results = []
            for case in TARGETS:
                work = Path(scratch) / case
                work.mkdir()
                results.append(bench(server, work, case, args.runs))
    finally:
        server.close()
    report = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(), "load_average": os.getloadavg()}, "results": results}
    (OUT / "check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    print("| case | runs | watch287g wall s | urlwatch wall s | ratio wall (min-max) | watch287g CPU s | "
          "urlwatch CPU s | ratio CPU | watch287g RSS MiB | target | met |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ours, floor = r["watch287g"], r["urlwatch"]
        print(f"| {r['case']} | {r['runs']} | {ours['median_wall']} | {floor['median_wall']} | "
              f"{r['ratio_wall']['median']} ({r['ratio_wall']['min']}-{r['ratio_wall']['max']}) | "
              f"{ours['median_cpu']} | {floor['median_cpu']} | {r['ratio_cpu']['median']} | {ours['median_rss']} | "
              f"<= {r['target_ratio']} | {'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
