"""Benchmark: the service's checks, trigger to done, and its memory.

Against a local copy of ICE's page (real 2025 workbooks, served with ETags,
so an unchanged check is three 304s):

1. trigger-to-done, in the real service: ``watch287g -v run`` with nothing
   scheduled, sent SIGUSR1 ``--triggers`` times; each time is taken from the
   service's own log, from "check of all sources requested" to "check ice:
   ok" (the outcome in hand). Target: at most 0.3 s for an unchanged check.
2. the same check through ``CheckRunner`` (the service's runner, forked
   from the check server) beside a cold child (``python -P -m watch287g.cli
   check --source ice --json --no-notify``, what each check was before the
   check server), in turn, ``--runs`` times each: wall time, and the
   child's CPU time (for a forked check, from the check server's
   accounting of its reaped children in /proc).
3. memory (VmRSS, MB): the service and its check server idle, and after
   ``--checks`` back-to-back checks (no growth expected). The state on
   disk (state.json and its parts) includes the parts replaced in the last
   ten minutes, kept for readers of older generations: back to back, that
   is many.
4. in-process: ``--ingests`` rounds, in one process, of what a check and
   the service do with an unchanged list (read, ingest, record the check,
   staleness, deliver, heartbeat): does that code leak without a process
   boundary to hide it?

    python benchmarks/bench_service.py [--triggers 30] [--runs 20] [--checks 300] [--ingests 1500]

Results go to benchmarks/out/service.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import statistics
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
TRIGGER_TARGET_S = 0.3
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def children_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``'s reaped children (cutime + cstime in /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def serve(server: LocalServer) -> None:
    serve_ice_lists(server, PARTICIPATING.read_bytes(), PENDING.read_bytes(), etags=True)


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


def cli(config: Path, data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data_dir), *args]


def start_service(config: Path, data_dir: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as handle:
        proc = subprocess.Popen(cli(config, data_dir, "-v", "run"), cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
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


def check_server_of(proc: subprocess.Popen) -> int:
    found = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "watch287g.check_server"], capture_output=True,
                           text=True).stdout.split()
    if len(found) != 1:
        raise SystemExit(f"expected one check server under the service, found {found}")
    return int(found[0])


def count_checks(data_dir: Path) -> int:
    from watch287g.state.store import Store, StoreError

    try:
        return Store(data_dir).read().checks.count()
    except StoreError:
        return 0


def log_times(log: Path, pattern: str) -> list[dt.datetime]:
    times = []
    for line in log.read_text(errors="replace").splitlines():
        match = LOG_TIME.match(line)
        if match and pattern in line:
            times.append(dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f"))
    return times


def bench_triggers(server: LocalServer, work: Path, triggers: int) -> dict:
    """Trigger to done in the real service, from its log."""
    config = work / "triggers.toml"
    config.write_text(config_text(server, 3600))
    data_dir, log = work / "triggers-data", work / "triggers.log"
    proc = start_service(config, data_dir, log)
    try:
        idle = {"service_rss_mb": round(rss_mb(proc.pid), 1),
                "check_server_rss_mb": round(rss_mb(check_server_of(proc)), 1)}
        for index in range(triggers + 1):           # the first check is the baseline: not counted
            proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 60
            while len(log_times(log, "check ice: ")) <= index:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no check result in the log: {log.read_text()[-2000:]}")
                time.sleep(0.05)
            time.sleep(0.3)                        # let the delivery and heartbeat after it pass
    finally:
        code = stop_service(proc)
    asked, done = log_times(log, "check of all sources requested"), log_times(log, "check ice: ok")
    seconds = [(end - start).total_seconds() for start, end in zip(asked[1:], done[1:])]
    return {"triggers": len(seconds), "median_s": round(statistics.median(seconds), 3),
            "min_s": round(min(seconds), 3), "max_s": round(max(seconds), 3),
            "target_s": TRIGGER_TARGET_S, "idle": idle, "exit_code": code}


def bench_runner(server: LocalServer, work: Path, runs: int) -> dict:
    """CheckRunner (forked) beside a cold child, in turn."""
    from watch287g.check_runner import CheckRunner
    from watch287g.core.config import load_config

    config = work / "runner.toml"
    config.write_text(config_text(server, 3600))
    data_dir = work / "runner-data"
    runner = CheckRunner(load_config(config), data_dir)
    forked: dict[str, list[float]] = {"wall": [], "cpu": []}
    cold: dict[str, list[float]] = {"wall": [], "cpu": []}
    try:
        runner.start()
        if runner.run("ice", 60).status != "ok":              # the baseline
            raise SystemExit("the baseline check failed")
        for _ in range(runs):
            before = children_cpu_seconds(runner.server.pid)
            started = time.perf_counter()
            outcome = runner.run("ice", 60)
            forked["wall"].append(time.perf_counter() - started)
            forked["cpu"].append(children_cpu_seconds(runner.server.pid) - before)
            if outcome.status != "ok":
                raise SystemExit(f"forked check: {outcome.status} {outcome.message}")
            started = time.perf_counter()
            child = subprocess.Popen(cli(config, data_dir, "-q", "check", "--source", "ice", "--json", "--no-notify"),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _pid, status, usage = os.wait4(child.pid, 0)
            cold["wall"].append(time.perf_counter() - started)
            cold["cpu"].append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit("cold check failed")
    finally:
        runner.close()
    return {"runs": runs, **{f"{name}_{key}_median_s": round(statistics.median(values[key]), 3)
                             for name, values in (("forked", forked), ("cold", cold)) for key in ("wall", "cpu")},
            "forked_wall_max_s": round(max(forked["wall"]), 3)}


def bench_checks(server: LocalServer, work: Path, checks: int, seconds: float, warmup: int) -> dict:
    """Memory of the service and its check server over back-to-back checks."""
    config = work / "checks.toml"
    config.write_text(config_text(server, 0.05))       # back to back: one check, then the next
    data_dir = work / "checks-data"
    proc = start_service(config, data_dir, work / "checks.log")
    check_server = check_server_of(proc)
    started = time.monotonic()
    samples: list[tuple[int, float, float]] = []
    done = 0
    while done < checks and time.monotonic() - started < seconds:
        time.sleep(1.0)
        done = count_checks(data_dir)
        samples.append((done, rss_mb(proc.pid), rss_mb(check_server)))
    elapsed = time.monotonic() - started
    code = stop_service(proc)
    after_warmup = [s for s in samples if s[0] >= warmup] or samples[-1:]
    return {
        "checks": done, "seconds": round(elapsed, 1), "seconds_per_check": round(elapsed / max(done, 1), 3),
        "warmup_checks": warmup, "exit_code": code,
        "service_rss_after_warmup_mb": round(after_warmup[0][1], 1), "service_rss_end_mb": round(samples[-1][1], 1),
        "check_server_rss_after_warmup_mb": round(after_warmup[0][2], 1),
        "check_server_rss_end_mb": round(samples[-1][2], 1),
    }


def bench_in_process(rounds: int, work: Path) -> dict:
    """Run in a fresh interpreter so its RSS is this loop's alone."""
    out = subprocess.run([sys.executable, __file__, "--in-process-child", str(rounds), "--work", str(work)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check_record(index: int, when: str) -> dict:
    """A check record shaped like the commit step's for an unchanged ICE check (~1.5 KB)."""
    fetched = [{"role": role, "url": f"http://127.0.0.1:8000/{role}", "fetched_at": when, "status": 200,
                "final_url": f"http://127.0.0.1:8000/{role}", "size": 36942, "content_type": "application/x",
                "sha256": f"{index:064x}"} for role in ("page", "participating", "pending")]
    verdicts = [{"kind": kind, "verdict": "unchanged", "reason": None, "sha256": f"{index:064x}", "events": 0}
                for kind in ("participating", "pending")]
    return {"source": "ice", "started_at": when, "finished_at": when, "ok": True,
            "message": "participating unchanged, pending unchanged", "notes": [], "fetched": fetched,
            "verdicts": verdicts}


def in_process_child(rounds: int, work: Path) -> None:
    from watch287g.alerts.outbox import deliver_due
    from watch287g.core.config import Config
    from watch287g.core.timeutil import to_iso
    from watch287g.readers.workbook import snapshot_from_workbook
    from watch287g.settings import Settings
    from watch287g.state import health
    from watch287g.state.ingest import ingest
    from watch287g.state.store import Store

    from watch287g import health_watch
    from watch287g.heartbeat import write_heartbeat

    store, settings = Store(work / "in-process-data"), Settings(Config({}, None))
    content = PARTICIPATING.read_bytes()
    thresholds = {"ice": {"participating": 10.0}}
    marks = {100, 500, 1000, 1500, rounds}
    samples = []
    for index in range(1, rounds + 1):
        observed = dt.datetime.now(dt.timezone.utc)
        when = to_iso(observed)
        snapshot = snapshot_from_workbook("ice", "participating", when, PARTICIPATING.name, content)
        with store.write() as db:
            ingest(db, snapshot, settings.policy)       # after the first: unchanged
            health.record_check(db, check_record(index, when))   # history grows to its cap, then is trimmed
        health_watch.watch_staleness(store, settings, thresholds, observed)
        deliver_due(store, settings.alerts, settings.subscriptions, observed)
        write_heartbeat(store.data_dir, {"pid": os.getpid(), "round": index})
        if index in marks:
            state_bytes = sum(path.stat().st_size for path in [store.path, *store.parts_dir.glob("*.json")])
            samples.append({"rounds": index, "rss_mb": round(rss_mb(), 1), "state_kb": round(state_bytes / 1024)})
    print(json.dumps({"rounds": rounds, "samples": samples,
                      "growth_mb": round(samples[-1]["rss_mb"] - samples[0]["rss_mb"], 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=30, help="checks asked of the real service (SIGUSR1)")
    parser.add_argument("--runs", type=int, default=20, help="forked and cold checks through the runner")
    parser.add_argument("--checks", type=int, default=300, help="back-to-back checks for the memory part")
    parser.add_argument("--seconds", type=float, default=300, help="time budget of the memory part")
    parser.add_argument("--warmup", type=int, default=20, help="checks before the memory baseline")
    parser.add_argument("--ingests", type=int, default=1500,
                        help="in-process rounds (past the 1,000 check records kept per source)")
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
            triggers = bench_triggers(server, work, args.triggers)
            runner = bench_runner(server, work, args.runs)
            checks = bench_checks(server, work, args.checks, args.seconds, args.warmup)
            in_process = bench_in_process(args.ingests, work)
    finally:
        server.close()
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform(), "load_average": os.getloadavg()},
              "triggers": triggers, "runner": runner, "checks": checks, "in_process": in_process}
    out = ROOT / "benchmarks" / "out" / "service.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| unchanged check, trigger to done, in the service ({triggers['triggers']} SIGUSR1) | median "
          f"{triggers['median_s']} s (min {triggers['min_s']}, max {triggers['max_s']}) | <= {TRIGGER_TARGET_S} s |")
    print(f"| the same check through the runner, forked ({runner['runs']} runs) | wall {runner['forked_wall_median_s']}"
          f" s, CPU {runner['forked_cpu_median_s']} s | |")
    print(f"| the same check as a cold child, in turn with it | wall {runner['cold_wall_median_s']} s, "
          f"CPU {runner['cold_cpu_median_s']} s | |")
    idle = triggers["idle"]
    print(f"| idle RSS: service, check server | {idle['service_rss_mb']} MB, {idle['check_server_rss_mb']} MB | |")
    print(f"| RSS after {checks['warmup_checks']} checks → after {checks['checks']}: service | "
          f"{checks['service_rss_after_warmup_mb']} → {checks['service_rss_end_mb']} MB | no growth |")
    print(f"| the same: check server | {checks['check_server_rss_after_warmup_mb']} → "
          f"{checks['check_server_rss_end_mb']} MB | no growth |")
    trail = " → ".join(f"{s['rss_mb']} MB ({s['rounds']}, {s['state_kb']} KB state)" for s in in_process["samples"])
    print(f"| in-process rounds: read + ingest unchanged + record check + staleness + deliver + heartbeat | "
          f"{trail} | no growth |")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
