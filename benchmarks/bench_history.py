"""Benchmark: what a check and a delivery pass cost with a long history.

Two data dirs that differ only in how much history they hold, built on the
same real start (one real check of the 2025 demo page and workbooks):

* ``month``: one month at five times 2025's volume (~420 events, ~35
  snapshot records, ~120 outbox rows);
* ``five-years``: five years of it (~25,000 events, ~2,100 snapshot records,
  ~7,000 outbox rows).

Both carry the same current lists, the same 1,000 check records (the cap
per source) and the same five alerts due now on a Slack channel (the local
fake Slack). History is written through the store's own repositories, so it
is laid out on disk exactly as the running tool would lay it out.

Measured, month and five years in turn, each run on a fresh copy of its data
dir (copied outside the timed part):

* ``check unchanged`` / ``check changed``: one check as the service runs it
  (forked from its check server, so start-up does not hide the state's
  cost), the server answering 304 / serving new workbooks (events, outbox
  rows); wall time and the child's CPU time;
* ``cold check``: ``python -P -m watch287g.cli check --no-notify``, unchanged;
* ``delivery pass``: ``deliver_due`` in this process (as the service's
  alerts worker runs it), sending the five due alerts to the fake Slack.

Target: five years at most 1.2x one month (median of the pair ratios).

    python benchmarks/bench_history.py [--runs 7]

Results go to benchmarks/out/history.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from watch287g.testing.pages import DEMO_PAGE_PATH, serve_demo_capture

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
LISTS = {
    "before": ("participatingAgencies-20250327140009.xlsx", "pendingAgencies-20250327140009.xlsx"),
    "after": ("participatingAgencies-20250327195954.xlsx", "pendingAgencies-20250327195954.xlsx"),
}
CHANNEL = "C0HISTORY1"
# Five times 2025's volume, per year (issue 13): events, snapshot records, outbox rows.
PER_YEAR = {"events": 5000, "snapshots": 420, "outbox": 1400}
SIZES = {"month": 1 / 12, "five-years": 5}
CHECK_RECORDS = 1000
DUE_ALERTS = 5
TARGET_RATIO = 1.2


def serve(server: LocalServer, lists: str) -> None:
    serve_demo_capture(server, *LISTS[lists])


def config_text(server: LocalServer, slack_api: str) -> str:
    return f"""
[crawl]
contact = "benchmark"
download_delay = 0
retries = 0

[[sources]]
name = "ice"
type = "ice"
url = "{server.url(DEMO_PAGE_PATH)}"

[slack]
api_base_url = "{slack_api}"

[[subscriptions]]
name = "desk"
slack_channel = "{CHANNEL}"
"""


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_history(data_dir: Path, config: Path, years: float, now: dt.datetime) -> dict:
    """Append ``years`` of synthetic history, ending at ``now``, through the
    store's repositories; then the alerts due now."""
    from watch287g.alerts import outbox
    from watch287g.core import events as ev
    from watch287g.core.config import load_config
    from watch287g.settings import Settings
    from watch287g.state import journal
    from watch287g.state.store import Store

    settings = Settings(load_config(config))
    counts = {name: round(per_year * years) for name, per_year in PER_YEAR.items()}
    span = dt.timedelta(days=365 * years)
    store = Store(data_dir)
    with store.write() as db:
        [template] = [dict(s) for s in db.snapshots.all() if s["kind"] == "participating"]
        for index in range(counts["snapshots"]):
            moment = iso(now - span + span * index / counts["snapshots"])
            sha = hashlib.sha256(f"snapshot {index}".encode()).hexdigest()
            db.snapshots.add({**template, "observed_at": moment, "sha256": sha, "verdict": "accepted",
                              "provenance": {**template["provenance"], "sha256": sha, "fetched_at": moment}})
        events = []
        for index in range(counts["events"]):
            moment = iso(now - span + span * index / counts["events"])
            record = {"uid": f"TX-{index}-Task", "state": "TX", "agency": f"AGENCY NUMBER {index} SHERIFF'S OFFICE",
                      "model": "Task Force Model", "signed": moment[:10], "county": f"County {index % 254}",
                      "agency_type": "County", "addendum_url": None,
                      "moa_url": f"https://www.ice.gov/doclib/about/offices/ero/pdf/287gMOA/r_287gTX{index}.pdf"}
            source = {"kind": "participating", "file_name": template["file_name"], "sha256": template["sha256"],
                      "observed_at": moment}
            row = {"line": 10 + index % 1200, "values": {"STATE": "TX", "LAW ENFORCEMENT AGENCY": record["agency"],
                                                         "SIGNED": moment[:10]}}
            events.append(ev.record_event(ev.SIGNED, record, moment, source, row))
        journal.record(db, events, None)
        every = max(counts["events"] // max(counts["outbox"], 1), 1)
        sent = [{"key": f"{event['id']}:config:desk", "event_id": event["id"], "subscription_id": "config:desk",
                 "destination": f"slack:{CHANNEL}", "cadence": "instant", "status": "sent", "due": True,
                 "queued_at": event["observed_at"], "attempts": 1, "next_attempt_at": event["observed_at"],
                 "last_error": None, "last_error_at": None, "batch": f"b{event['id']}",
                 "batch_at": event["observed_at"], "sent_at": event["observed_at"]}
                for event in events[::every][:counts["outbox"]]]
        db.outbox.add(sent)
        for index in range(CHECK_RECORDS):
            moment = iso(now - dt.timedelta(minutes=15 * (CHECK_RECORDS - index)))
            db.checks.add({"source": "ice", "started_at": moment, "finished_at": moment, "ok": True,
                           "message": "participating unchanged, pending unchanged", "notes": [],
                           "fetched": [{"role": role, "url": f"http://127.0.0.1/{role}", "fetched_at": moment,
                                        "status": 304} for role in ("page", "participating", "pending")],
                           "verdicts": [{"kind": kind, "verdict": "unchanged", "reason": None, "events": 0}
                                        for kind in ("participating", "pending")]})
    due = [ev.record_event(ev.SIGNED, {"uid": f"FL-{i}", "state": "FL", "agency": f"DUE AGENCY {i}",
                                       "model": "Task Force Model", "signed": iso(now)[:10]},
                           iso(now), {"kind": "participating", "observed_at": iso(now)}) for i in range(DUE_ALERTS)]
    with store.write() as db:
        journal.record(db, due, outbox.deliveries(db, settings.alerts, settings.subscriptions, now))
    return counts


def state_bytes(data_dir: Path) -> int:
    return sum(path.stat().st_size for path in data_dir.rglob("*") if path.is_file()
               and "archive" not in path.relative_to(data_dir).parts)


def fresh(prepared: Path, run_dir: Path) -> Path:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(prepared, run_dir)
    return run_dir


def forked_check(runner, server_pid: int) -> tuple[float, float]:
    before = _children_cpu(server_pid)
    started = time.perf_counter()
    outcome = runner.run("ice", 120)
    wall = time.perf_counter() - started
    if outcome.status != "ok":
        raise SystemExit(f"check: {outcome.status} {outcome.message}")
    return wall, _children_cpu(server_pid) - before


def _children_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def cold_check(config: Path, data_dir: Path) -> tuple[float, float]:
    argv = [sys.executable, "-P", "-m", "watch287g.cli", "-q", "--config", str(config), "--data-dir", str(data_dir),
            "check", "--no-notify"]
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("cold check failed")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def delivery_pass(settings, data_dir: Path) -> tuple[float, float]:
    from watch287g.alerts.outbox import deliver_due
    from watch287g.state.store import Store

    started, cpu = time.perf_counter(), time.process_time()
    report = deliver_due(Store(data_dir), settings.alerts, settings.subscriptions)
    if report["sent"] != DUE_ALERTS:
        raise SystemExit(f"delivery pass: {report}")
    return time.perf_counter() - started, time.process_time() - cpu


def summarize(samples: dict[str, list[tuple[float, float]]]) -> dict:
    month, years = samples["month"], samples["five-years"]
    result = {}
    for size, rows in samples.items():
        result[size] = {"median_wall_s": round(statistics.median(r[0] for r in rows), 4),
                        "median_cpu_s": round(statistics.median(r[1] for r in rows), 4)}
    for index, key in ((0, "wall"), (1, "cpu")):
        ratios = [b[index] / a[index] for a, b in zip(month, years) if a[index] > 0]
        result[f"ratio_{key}"] = round(statistics.median(ratios), 2) if ratios else None
    result["ok"] = result["ratio_wall"] is not None and result["ratio_wall"] <= TARGET_RATIO
    return result


def main() -> None:
    from watch287g.check_runner import CheckRunner
    from watch287g.core.config import load_config
    from watch287g.settings import Settings
    from watch287g.testing.fake_slack import VALID_TOKEN, FakeSlack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ["SLACK_BOT_TOKEN"] = VALID_TOKEN
    server, slack = LocalServer(), FakeSlack()
    results: dict = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-history-") as scratch:
            work = Path(scratch)
            config = work / "config.toml"
            config.write_text(config_text(server, slack.api_base_url))
            settings = Settings(load_config(config))
            serve(server, "before")
            baseline = work / "baseline"
            cold_check(config, baseline)
            now = dt.datetime.now(dt.timezone.utc)
            prepared, built = {}, {}
            for size, years in SIZES.items():
                prepared[size] = work / f"prepared-{size}"
                shutil.copytree(baseline, prepared[size])
                started = time.perf_counter()
                counts = add_history(prepared[size], config, years, now)
                built[size] = {**counts, "build_s": round(time.perf_counter() - started, 1),
                               "state_kb": round(state_bytes(prepared[size]) / 1024)}
            results["built"] = built
            runners = {size: CheckRunner(load_config(config), work / f"run-{size}") for size in SIZES}
            for runner in runners.values():
                runner.start()
            measures = {"check unchanged": {}, "check changed": {}, "cold check": {}, "delivery pass": {}}
            for samples in measures.values():
                samples.update({size: [] for size in SIZES})
            delivery_pass(settings, fresh(prepared["month"], work / "warm"))    # imports slack-sdk once
            try:
                for run in range(args.runs):
                    order = list(SIZES) if run % 2 == 0 else list(SIZES)[::-1]
                    for size in order:
                        runner = runners[size]
                        serve(server, "before")
                        fresh(prepared[size], runner.data_dir)
                        measures["check unchanged"][size].append(forked_check(runner, runner.server.pid))
                        serve(server, "after")
                        fresh(prepared[size], runner.data_dir)
                        measures["check changed"][size].append(forked_check(runner, runner.server.pid))
                        serve(server, "before")
                        measures["cold check"][size].append(cold_check(config, fresh(prepared[size],
                                                                                      work / "cold")))
                        measures["delivery pass"][size].append(delivery_pass(settings, fresh(prepared[size],
                                                                                             work / "deliver")))
            finally:
                for runner in runners.values():
                    runner.close()
            results["measures"] = {name: summarize(samples) for name, samples in measures.items()}
    finally:
        server.close()
        slack.close()
    report = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(), "load_average": os.getloadavg()}, "runs": args.runs, **results}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "history.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    print("| history | events | snapshot records | outbox rows | state on disk (KB, archive aside) |")
    print("|---|---|---|---|---|")
    for size, info in results["built"].items():
        print(f"| {size} | {info['events']} | {info['snapshots']} | {info['outbox']} | {info['state_kb']} |")
    print(f"\n| operation ({args.runs} runs each) | month wall s | five years wall s | ratio wall | month CPU s | "
          f"five years CPU s | ratio CPU | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results["measures"].items():
        print(f"| {name} | {r['month']['median_wall_s']} | {r['five-years']['median_wall_s']} | {r['ratio_wall']} | "
              f"{r['month']['median_cpu_s']} | {r['five-years']['median_cpu_s']} | {r['ratio_cpu']} | "
              f"<= {TARGET_RATIO} | {'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
