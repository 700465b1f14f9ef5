"""Benchmark: how fast the Slack app answers, and what it costs the service.

What is measured, against the real ``watch287g run`` in HTTP mode on
loopback (Bolt's Flask adapter on waitress), with the fake Slack API and a
local copy of ICE's page:

1. acknowledgement: the time from sending a signed ``/287g`` request to its
   HTTP response, for ``list`` (the reply goes after, to the response URL),
   ``help`` (answered in the acknowledgement itself) and ``check`` (queues a
   check on the service's worker and answers). Slack gives an app 3 seconds;
   target: p99 under 0.5 s, on a state holding a replayed year of events.
2. reply: ``/287g status`` from the request to its reply at the response URL
   (status reads the whole state).
3. memory: VmRSS of the idle service without and with [slack_app].

    python benchmarks/bench_slackapp.py [--requests 200]

Results go to benchmarks/out/slackapp.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from watch287g.testing.fake_site import LocalServer, serve_ice_lists
from watch287g.testing.fake_slack import FakeSlack
from watch287g.testing.service import Service, write_config
from watch287g.testing.slack_requests import SIGNING_SECRET, SlackClient
from watch287g.testing.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"
# The lists ICE's page serves: the tests' saved workbooks of 7 March and 21 February 2025.
LISTS = ROOT / "tests" / "fixtures" / "replay"
PARTICIPATING = LISTS / "participating" / "20250307T0900_participatingAgencies03072025am.xlsx"
PENDING = LISTS / "pending" / "20250221T2149_pendingAgencies-20250221214937.xlsx"
CHANNEL, USER = "C0BENCH001", "U0BENCH01"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def start(folder: Path, server: LocalServer, slack: FakeSlack, with_app: bool) -> tuple[Service, SlackClient]:
    folder.mkdir()
    port = free_port()
    app = f"""
[slack]
api_base_url = "{slack.api_base_url}"

[slack_app]
mode = "http"
listen = "127.0.0.1:{port}"
check_every_minutes = 10
""" if with_app else ""
    config = write_config(folder / "config.toml", server, """
schedule = ["0 0 1 1 *"]
daily_digest = false
weekly_digest = false
""", app)
    data = folder / "data"
    if with_app and SNAPSHOTS.is_file() and not (data / "state.json").exists():
        subprocess.run([sys.executable, "-P", "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data),
                        "-q", "replay", str(SNAPSHOTS)], check=True, cwd=ROOT)
    service = Service(config, data, env={"SLACK_SIGNING_SECRET": SIGNING_SECRET})
    service.wait_running()
    return service, SlackClient(f"http://127.0.0.1:{port}/slack/events")


def timed(client: SlackClient, slack: FakeSlack, text: str, name: str) -> float:
    began = time.perf_counter()
    answer = client.command(text, CHANNEL, USER, slack.response_url(name))
    elapsed = time.perf_counter() - began
    if answer.status != 200:
        raise SystemExit(f"/287g {text}: HTTP {answer.status} {answer.body[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    results: dict = {"machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
                     "requests": args.requests, "state_events": 0}
    with tempfile.TemporaryDirectory() as scratch:
        server, slack = LocalServer(), FakeSlack()
        slack.add_channel(CHANNEL, members=[USER])
        serve_ice_lists(server, PARTICIPATING.read_bytes(), PENDING.read_bytes())
        try:
            plain, _ = start(Path(scratch) / "plain", server, slack, with_app=False)
            time.sleep(2)
            results["idle_rss_mb_without_app"] = round(rss_mb(plain.proc.pid), 1)
            plain.stop()

            service, client = start(Path(scratch) / "app", server, slack, with_app=True)
            try:
                time.sleep(2)
                results["idle_rss_mb_with_app"] = round(rss_mb(service.proc.pid), 1)
                from watch287g.state.store import Store

                results["state_events"] = Store(service.data_dir).read().events.count()
                timings: dict[str, list[float]] = {"help": [], "list": [], "check": []}
                for number in range(args.requests):
                    for text in ("help", "list"):
                        timings[text].append(timed(client, slack, text, f"{text}-{number}"))
                for number in range(min(args.requests, 20)):
                    timings["check"].append(timed(client, slack, "check", f"check-{number}"))
                status = []
                for number in range(min(args.requests, 20)):
                    name = f"status-{number}"
                    began = time.perf_counter()
                    timed(client, slack, "status", name)
                    while not slack.responded(name):
                        time.sleep(0.005)
                    status.append(time.perf_counter() - began)
                timings["status (to its reply)"] = status
                results["after_requests_rss_mb"] = round(rss_mb(service.proc.pid), 1)
            finally:
                service.stop()
        finally:
            server.close()
            slack.close()
    results["seconds"] = {name: {"count": len(values), "median": round(statistics.median(values), 4),
                                 "p99": round(percentile(values, 0.99), 4), "max": round(max(values), 4)}
                          for name, values in timings.items()}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "slackapp.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"state: {results['state_events']} events; idle RSS {results['idle_rss_mb_without_app']} MB without "
          f"the app, {results['idle_rss_mb_with_app']} MB with it, {results['after_requests_rss_mb']} MB after "
          "the requests")
    print("| request | count | median (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|")
    for name, row in results["seconds"].items():
        print(f"| /287g {name} | {row['count']} | {row['median'] * 1000:.1f} | {row['p99'] * 1000:.1f} | "
              f"{row['max'] * 1000:.1f} |")


if __name__ == "__main__":
    main()
