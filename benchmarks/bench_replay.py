"""Benchmark: replay all of ../shared/ice-snapshots through gate -> diff -> store.

Runs the replay in a fresh child process (so peak RSS is the replay's own)
and reports wall time, the per-snapshot median and peak RSS. Targets on the
project's 2-core machine: under 15 s in all, peak RSS under 200 MB.

    python benchmarks/bench_replay.py [--manifest PATH] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"


def child(manifest: Path, data_dir: Path) -> None:
    from watch287g.state.policy import Policy
    from watch287g.state.store import Store

    from watch287g.replay import read_manifest, replay

    rows = read_manifest(manifest)
    started = last = time.perf_counter()
    steps = []
    for _step in replay(Store(data_dir), rows, Policy()):
        now = time.perf_counter()
        steps.append(now - last)
        last = now
    total = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"snapshots": len(rows), "seconds": total, "median_ms": statistics.median(steps) * 1000,
                      "p95_ms": sorted(steps)[int(len(steps) * 0.95)] * 1000, "peak_rss_mb": rss_mb}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.manifest, args.child)
        return
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as data_dir:
            out = subprocess.run([sys.executable, __file__, "--manifest", str(args.manifest), "--child", data_dir],
                                 check=True, capture_output=True, text=True, cwd=ROOT).stdout
            results.append(json.loads(out))
    best = min(results, key=lambda r: r["seconds"])
    report = {"machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                         f"{__import__('os').cpu_count()} cores",
              "runs": results, "best": best}
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "replay.json").write_text(json.dumps(report, indent=2))
    print("| run | snapshots | wall (s) | median per snapshot (ms) | p95 (ms) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for n, r in enumerate(results, 1):
        print(f"| {n} | {r['snapshots']} | {r['seconds']:.2f} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} "
              f"| {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
