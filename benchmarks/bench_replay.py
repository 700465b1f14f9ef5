"""Benchmark: replay all of ../shared/ice-snapshots against the parse floor.

Three measurements over the same files, each in a fresh child process (so
peak RSS is its own), taken in turn (floor, reader, replay; floor, reader,
replay; ...) so a machine that slows down mid-run slows all three alike:

* floor: python-calamine (Rust) reading each file's first sheet, the fastest
  way Python has to read the values of these workbooks;
* reader: watch287g's reader (readers/xlsx.py) alone on the same files;
* replay: the whole replay, gate -> diff -> store, as `watch287g replay` runs
  it (reader, ingest, archive and state writes).

Each child times its own loop, file reads included and interpreter start-up
left out, and reports wall and CPU seconds. The ratios are taken pair by
pair (run n's replay over run n's floor) and their median is the result.
Targets (issue 13): replay <= 4x the floor, peak RSS <= 100 MiB.

    pip install -e '.[bench]'      # python-calamine, for the floor
    python benchmarks/bench_replay.py [--manifest PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
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
MEASURES = ("floor", "reader", "replay")
TARGET_RATIO = 4.0
TARGET_RSS_MIB = 100


def _manifest_files(manifest: Path) -> list[Path]:
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        return [manifest.parent / row["file"] for row in csv.DictReader(handle)]


def _floor(manifest: Path) -> int:
    from python_calamine import CalamineWorkbook

    files = _manifest_files(manifest)
    for path in files:
        CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes())).get_sheet_by_index(0).to_python()
    return len(files)


def _reader(manifest: Path) -> int:
    from watch287g.readers.xlsx import WorkbookError, read_first_sheet

    files = _manifest_files(manifest)
    for path in files:
        try:
            read_first_sheet(path.read_bytes())
        except WorkbookError:
            pass  # a refused file costs what it costs, as in the replay
    return len(files)


def _replay(manifest: Path) -> int:
    from watch287g.cli import main

    with tempfile.TemporaryDirectory() as data_dir:
        config = Path(data_dir) / "defaults.toml"
        config.write_text("")
        code = main(["--config", str(config), "--data-dir", str(Path(data_dir) / "data"), "-q", "replay",
                     str(manifest)])
    if code != 0:
        sys.exit(f"bench_replay: watch287g replay exited {code}")
    return len(_manifest_files(manifest))


def child(measure: str, manifest: Path) -> None:
    run = {"floor": _floor, "reader": _reader, "replay": _replay}[measure]
    wall, cpu = time.perf_counter(), time.process_time()
    files = run(manifest)
    print(json.dumps({"measure": measure, "files": files, "wall_s": time.perf_counter() - wall,
                      "cpu_s": time.process_time() - cpu,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure_once(measure: str, manifest: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--manifest", str(manifest), "--child", measure],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])  # the replay command prints its summary first


def summarise(runs: list[dict[str, dict]]) -> dict:
    """Medians of each measure, and of the ratios to the floor pair by pair."""
    summary: dict = {}
    for measure in MEASURES:
        summary[measure] = {key: statistics.median(run[measure][key] for run in runs)
                            for key in ("wall_s", "cpu_s", "peak_rss_mib")}
    for measure in ("reader", "replay"):
        for key in ("wall_s", "cpu_s"):
            summary[measure][f"{key}_ratio"] = statistics.median(
                run[measure][key] / run["floor"][key] for run in runs)
    replay = summary["replay"]
    summary["met"] = {"ratio": replay["wall_s_ratio"] <= TARGET_RATIO,
                      "peak_rss": replay["peak_rss_mib"] <= TARGET_RSS_MIB}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=MEASURES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.manifest)
        return
    try:
        import python_calamine  # noqa: F401 - only the floor's child uses it
    except ImportError:
        sys.exit("bench_replay: the floor needs python-calamine: pip install -e '.[bench]'")
    runs = []
    for number in range(1, args.runs + 1):
        runs.append({measure: measure_once(measure, args.manifest) for measure in MEASURES})
        print(f"run {number}/{args.runs}: " + ", ".join(f"{m} {runs[-1][m]['wall_s']:.2f} s" for m in MEASURES),
              file=sys.stderr)
    report = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                   f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        "command": "python benchmarks/bench_replay.py " + " ".join(sys.argv[1:]),
        "files": runs[0]["floor"]["files"],
        "runs": runs,
        "median": summarise(runs),
    }
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "replay.json").write_text(json.dumps(report, indent=2))
    median = report["median"]
    print(f"{report['files']} files, {args.runs} runs, medians ({report['machine']}):")
    print("| measure | wall (s) | CPU (s) | peak RSS (MiB) | wall / floor | CPU / floor |")
    print("|---|---|---|---|---|---|")
    for measure in MEASURES:
        row = median[measure]
        ratios = (f"{row['wall_s_ratio']:.1f}x | {row['cpu_s_ratio']:.1f}x" if measure != "floor" else "1 | 1")
        print(f"| {measure} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {row['peak_rss_mib']:.0f} | {ratios} |")
    met = median["met"]
    print(f"replay <= {TARGET_RATIO:g}x floor: {'met' if met['ratio'] else 'not met'}; "
          f"peak RSS <= {TARGET_RSS_MIB} MiB: {'met' if met['peak_rss'] else 'not met'}")


if __name__ == "__main__":
    main()
