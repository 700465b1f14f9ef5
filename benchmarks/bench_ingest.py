"""Benchmark: the ingest alone (gate, differ, identity, state in memory) over
the 391 real 2025 lists, as `watch287g replay` runs it (issue 13, goal 1).

The lists are read first (reader and roster, not timed) with their bytes
dropped, so nothing is archived; then each round ingests all of them, in
manifest order, into a fresh store in one write session (nothing written to
disk until the session ends, which is not timed either), timing each
``ingest`` call in CPU seconds. Each round runs in a fresh child process, so
no round inherits another's caches. Compare two versions of the code by
running it from each checkout in turn (old, new, old, new, ...).

    python benchmarks/bench_ingest.py [--manifest PATH] [--rounds 5] [--events-out FILE]

``--events-out`` writes the events (less their ids, sorted) for comparing
two versions' results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"


def child(manifest: Path, events_out: Path | None) -> dict:
    from watch287g.readers.workbook import snapshot_from_workbook
    from watch287g.readers.xlsx import Limits
    from watch287g.replay import read_manifest
    from watch287g.state import journal
    from watch287g.state.ingest import ingest
    from watch287g.state.policy import Policy
    from watch287g.state.store import Store

    limits = Limits()
    snapshots = [dataclasses.replace(snapshot_from_workbook(
        "ice", row.kind, row.observed_at, row.path.name, row.path.read_bytes(),
        provenance={"replayed_from": str(row.path)}, limits=limits), content=None)
        for row in read_manifest(manifest)]
    policy, events, cpu = Policy(), [], 0.0
    with tempfile.TemporaryDirectory() as data_dir, Store(Path(data_dir)).write() as db:
        for snapshot in snapshots:
            started = time.process_time()
            result = ingest(db, snapshot, policy)
            cpu += time.process_time() - started
            events.extend(journal.record(db, result.events, None))
    if events_out:
        events_out.write_text(json.dumps(sorted(
            json.dumps({k: v for k, v in event.items() if k != "id"}, sort_keys=True) for event in events)))
    return {"lists": len(snapshots), "ingest_cpu_s": cpu, "events": len(events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events-out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.manifest, args.events_out)))
        return
    rounds = []
    for number in range(1, args.rounds + 1):
        command = [sys.executable, __file__, "--child", "--manifest", str(args.manifest)]
        if args.events_out and number == 1:
            command += ["--events-out", str(args.events_out)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        rounds.append(json.loads(out.strip().splitlines()[-1]))
        print(f"round {number}/{args.rounds}: ingest {rounds[-1]['ingest_cpu_s']:.2f} s CPU", file=sys.stderr)
    seconds = [r["ingest_cpu_s"] for r in rounds]
    print(json.dumps({
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "lists": rounds[0]["lists"], "events": rounds[0]["events"],
        "ingest_cpu_s": [round(s, 3) for s in seconds], "median_s": round(statistics.median(seconds), 3),
    }))


if __name__ == "__main__":
    main()
