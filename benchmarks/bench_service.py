"""Benchmark: the service's memory, idle and across many checks.

What is measured (VmRSS from /proc/PID/status, in MB):

1. idle: the real ``watch287g run`` after start-up, with nothing due.
   Target: under 80 MB.
2. checks: the real service checking a local copy of ICE's page (unchanged
   workbooks) back to back, ``--checks`` times or for ``--seconds``,
   whichever comes first. Each check is a child process (~0.8 s, mostly
   Scrapy's import), so this is the service's own memory — scheduler,
   child handling, health, heartbeat, deliveries — not the crawls'. The
   growth is the RSS at the end minus the RSS after the first ``--warmup``
   checks. Target: no growth beyond noise. The service re-reads the state
   file after each check (staleness), and that file grows with the check
   history up to the 1,000 records kept per source (~1.5 MB): RSS follows
   it by a few MB, then levels off.
3. in-process: ``--ingests`` rounds, in one process, of what a check and the
   service do with an unchanged list: read the workbook, ingest it and record
   the check in a write session, evaluate staleness, deliver, write the
   heartbeat. Shows whether that code leaks without the process boundary
   hiding it, and how memory follows the state file as the check history
   grows to its cap (1,000 per source, state.health) and is trimmed.

    python benchmarks/bench_service.py [--checks 1000] [--seconds 420] [--ingests 1500]

The defaults keep the run under 10 minutes (~560 checks); all 1,000 checks
take `--seconds 900`.

Results go to benchmarks/out/service.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from watch287g.testing.fake_site import LocalServer, serve_ice_lists

ROOT = Path(__file__).resolve().parent.parent

REPLAY = ROOT / "tests" / "fixtures" / "replay"
PARTICIPATING = REPLAY / "participating" / "20250307T0900_participatingAgencies03072025am.xlsx"
PENDING = REPLAY / "pending" / "20250221T2149_pendingAgencies-20250221214937.xlsx"
IDLE_TARGET_MB = 80


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def serve(server: LocalServer) -> None:
    serve_ice_lists(server, PARTICIPATING.read_bytes(), PENDING.read_bytes())


def config_text(server: LocalServer, interval: float) -> str:
    return f"""
[crawl]
download_delay = 0
retries = 0

[[sources]]
name = "ice"
type = "ice"
url = "{server.url('/287g')}"

[service]
interval_seconds = {interval}
jitter_seconds = 0
heartbeat_seconds = 5
daily_digest = false
weekly_digest = false
"""


def start_service(config: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir",
                                 str(data_dir), "-q", "run"], cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            beat = json.loads((data_dir / "heartbeat").read_text())
            if beat.get("pid") == proc.pid and beat.get("next_runs"):
                return proc
        except (OSError, ValueError):
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the service exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise SystemExit("the service did not start")


def stop_service(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


def count_checks(data_dir: Path) -> int:
    try:
        return len(json.loads((data_dir / "state.json").read_bytes()).get("checks", {}))
    except (OSError, ValueError):
        return 0


def bench_idle(server: LocalServer, work: Path, settle: float) -> dict:
    config = work / "idle.toml"
    config.write_text(config_text(server, 3600))
    proc = start_service(config, work / "idle-data", work / "idle.log")
    time.sleep(settle)
    idle = rss_mb(proc.pid)
    code = stop_service(proc)
    return {"rss_mb": round(idle, 1), "target_mb": IDLE_TARGET_MB, "exit_code": code}


def bench_checks(server: LocalServer, work: Path, checks: int, seconds: float, warmup: int) -> dict:
    config = work / "checks.toml"
    config.write_text(config_text(server, 0.05))       # back to back: one check, then the next
    data_dir = work / "checks-data"
    proc = start_service(config, data_dir, work / "checks.log")
    started = time.monotonic()
    samples: list[tuple[int, float]] = []
    done = 0
    while done < checks and time.monotonic() - started < seconds:
        time.sleep(1.0)
        done = count_checks(data_dir)
        samples.append((done, rss_mb(proc.pid)))
    elapsed = time.monotonic() - started
    code = stop_service(proc)
    state_kb = round((data_dir / "state.json").stat().st_size / 1024)
    after_warmup = [rss for n, rss in samples if n >= warmup] or [samples[-1][1]]
    return {
        "checks": done, "seconds": round(elapsed, 1), "seconds_per_check": round(elapsed / max(done, 1), 3),
        "rss_after_warmup_mb": round(after_warmup[0], 1), "rss_end_mb": round(samples[-1][1], 1),
        "rss_max_mb": round(max(rss for _, rss in samples), 1),
        "growth_mb": round(samples[-1][1] - after_warmup[0], 1), "warmup_checks": warmup,
        "state_kb_at_end": state_kb, "exit_code": code,
        "samples": [{"checks": n, "rss_mb": round(rss, 1)} for n, rss in samples[:: max(len(samples) // 20, 1)]],
    }


def bench_in_process(rounds: int, work: Path) -> dict:
    """Run in a fresh interpreter so its RSS is this loop's alone."""
    out = subprocess.run([sys.executable, __file__, "--in-process-child", str(rounds), "--work", str(work)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check_record(index: int, when: str) -> dict:
    """A check record shaped like the pipeline's for an unchanged ICE check (~1.5 KB)."""
    fetched = [{"role": role, "url": f"http://127.0.0.1:8000/{role}", "fetched_at": when, "status": 200,
                "final_url": f"http://127.0.0.1:8000/{role}", "size": 36942, "content_type": "application/x",
                "sha256": f"{index:064x}"} for role in ("page", "participating", "pending")]
    verdicts = [{"kind": kind, "verdict": "unchanged", "reason": None, "sha256": f"{index:064x}", "events": 0}
                for kind in ("participating", "pending")]
    return {"source": "ice", "started_at": when, "finished_at": when, "ok": True,
            "message": "participating unchanged, pending unchanged", "notes": [], "fetched": fetched,
            "verdicts": verdicts}


def in_process_child(rounds: int, work: Path) -> None:
    from watch287g.alerts.outbox import deliver_due, enqueue
    from watch287g.core.config import Config
    from watch287g.readers.workbook import snapshot_from_workbook
    from watch287g.state import health
    from watch287g.state.ingest import ingest
    from watch287g.state.policy import Policy
    from watch287g.state.store import Store

    from watch287g import health_watch
    from watch287g.heartbeat import write_heartbeat

    store, policy, config = Store(work / "in-process-data"), Policy(), Config({}, None)
    content = PARTICIPATING.read_bytes()
    thresholds = {"ice": {"participating": 10.0}}
    marks = {100, 500, 1000, 1500, rounds}
    samples = []
    for index in range(1, rounds + 1):
        observed = dt.datetime.now(dt.timezone.utc)
        when = health_watch.iso(observed)
        snapshot = snapshot_from_workbook("ice", "participating", when, PARTICIPATING.name, content)
        with store.write() as db:
            ingest(db, snapshot, policy)       # after the first: unchanged
            health.record_check(db, check_record(index, when))   # history grows to its cap, then is trimmed
        health_watch.watch_staleness(store, config, thresholds, observed, enqueue)
        deliver_due(store, config, observed)
        write_heartbeat(store.data_dir, {"pid": os.getpid(), "round": index})
        if index in marks:
            samples.append({"rounds": index, "rss_mb": round(rss_mb(), 1),
                            "state_kb": round(store.path.stat().st_size / 1024)})
    print(json.dumps({"rounds": rounds, "samples": samples,
                      "growth_mb": round(samples[-1]["rss_mb"] - samples[0]["rss_mb"], 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=420, help="time budget of the checks part")
    parser.add_argument("--warmup", type=int, default=50, help="checks before the growth baseline")
    parser.add_argument("--ingests", type=int, default=1500,
                        help="in-process rounds (past the 1,000 check records kept per source)")
    parser.add_argument("--idle-settle", type=float, default=5.0)
    parser.add_argument("--in-process-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process_child is not None:
        in_process_child(args.in_process_child, args.work)
        return
    server = LocalServer()
    serve(server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            idle = bench_idle(server, work, args.idle_settle)
            checks = bench_checks(server, work, args.checks, args.seconds, args.warmup)
            in_process = bench_in_process(args.ingests, work)
    finally:
        server.close()
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "idle": idle, "checks": checks, "in_process": in_process}
    out = ROOT / "benchmarks" / "out" / "service.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| idle RSS of `watch287g run` | {idle['rss_mb']} MB | < {IDLE_TARGET_MB} MB |")
    print(f"| checks run by the service | {checks['checks']} in {checks['seconds']} s "
          f"({checks['seconds_per_check']} s each) | 1000 |")
    print(f"| service RSS after {checks['warmup_checks']} checks → end | {checks['rss_after_warmup_mb']} → "
          f"{checks['rss_end_mb']} MB (max {checks['rss_max_mb']}) | no growth |")
    print(f"| service RSS growth | {checks['growth_mb']:+} MB | ~0 |")
    print(f"| state file after the checks | {checks['state_kb_at_end']} KB | capped by the check history |")
    trail = " → ".join(f"{s['rss_mb']} MB ({s['rounds']}, {s['state_kb']} KB state)" for s in in_process["samples"])
    print(f"| in-process rounds: read + ingest unchanged + record check + staleness + deliver + heartbeat | "
          f"{trail} | no growth |")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
