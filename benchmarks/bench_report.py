"""Benchmark: `watch287g report` over the year's history (all 391 real lists
of 2025 in ../shared/ice-snapshots, replayed once into a temporary data dir).

Each run is a fresh `watch287g report` process; wall time is measured
around it, CPU time and peak RSS inside it. Target on the project's 2-core
machine: under 10 s.

Cases:
- cold: a machine that never built a report (no map-shape cache) and a data
  dir whose lists were never counted: projects and simplifies the counties,
  reads a list per week of the year.
- new data dir: the map shapes are cached (any earlier report on the
  machine), the lists are not counted yet.
- warm: both caches: what `watch287g run` does after each check.
- warm + archive: the same with --with-archive (hard links to the archive).

    python benchmarks/bench_report.py [--manifest PATH] [--runs 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"
AS_OF = "2025-12-31"
TARGET_SECONDS = 10.0


def child(data_dir: Path, out: Path, extra: list[str]) -> None:
    """One report build in this process; prints CPU time and peak RSS."""
    from watch287g.cli import main

    config = out.parent / "empty.toml"
    config.write_text("")
    code = main(["--config", str(config), "--data-dir", str(data_dir), "-q", "--json", "report",
                 "--out", str(out), "--as-of", AS_OF, *extra])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"code": code, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))


def run_case(data_dir: Path, cache_home: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--child", str(data_dir), str(Path(scratch) / "report"),
                               *extra], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        wall = time.perf_counter() - started
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return {"wall": wall, **result}


def replay(manifest: Path, data_dir: Path) -> None:
    config = data_dir / "empty.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    config.write_text("")
    subprocess.run([sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data_dir),
                    "-q", "replay", str(manifest)], check=True, cwd=ROOT, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="an existing replay of the manifest (default: replay it now)")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.child:
        child(*args.child, extra)
        return
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data_dir = args.data_dir or scratch / "data"
        if not args.data_dir:
            replay(args.manifest, data_dir)
        counts_cache = data_dir / "cache"
        results: dict[str, list[dict]] = {}
        for _ in range(args.runs):
            shutil.rmtree(counts_cache, ignore_errors=True)
            cold_home = scratch / f"cache-{time.monotonic_ns()}"
            results.setdefault("cold", []).append(run_case(data_dir, cold_home, []))
            shutil.rmtree(counts_cache, ignore_errors=True)
            results.setdefault("new data dir", []).append(run_case(data_dir, cold_home, []))
            results.setdefault("warm", []).append(run_case(data_dir, cold_home, []))
            results.setdefault("warm + archive", []).append(run_case(data_dir, cold_home, ["--with-archive"]))
    report = {"machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                         f"{os.cpu_count()} cores", "load_average": os.getloadavg(), "as_of": AS_OF,
              "results": results}
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| case | runs | median wall (s) | min wall (s) | median CPU (s) | peak RSS (MB) | target (s) | met |")
    print("|---|---|---|---|---|---|---|---|")
    for case, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        print(f"| {case} | {len(runs)} | {wall:.2f} | {min(r['wall'] for r in runs):.2f} "
              f"| {statistics.median(r['cpu'] for r in runs):.2f} | {max(r['peak_rss_mb'] for r in runs):.0f} "
              f"| {TARGET_SECONDS:g} | {'yes' if wall < TARGET_SECONDS else 'no'} |")


if __name__ == "__main__":
    main()
