"""Benchmark: the web app on waitress (loopback) over a year's state.

Replays ../shared/ice-snapshots into a temporary data dir (the whole 2025
history: 391 lists, about 3,600 events), adds 200 confirmed web
subscriptions, then times requests one after another from a client on the
same machine: /healthz and /metrics (each reads the whole state), the
sign-up form, a report file (ETag revalidation, 304), a sign-up (stores a
subscription, sends the confirmation to a local SMTP server) and a
one-click unsubscribe (a state write).

    python benchmarks/bench_web.py [--manifest PATH] [--requests 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"
SUBSCRIBERS = 200


def timed(call, count: int) -> dict:
    times = []
    for index in range(count):
        started = time.perf_counter()
        call(index)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"requests": count, "median_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[int(len(times) * 0.95)] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from watch287g.alerts.links import STOP
    from watch287g.alerts.subscriptions import ACTIVE, add_subscription, make_destination, make_filter
    from watch287g.core.config import load_config
    from watch287g.core.timeutil import to_iso, utcnow
    from watch287g.replay import run_replay
    from watch287g.settings import Settings
    from watch287g.state.store import Store
    from watch287g.testing.smtp import SmtpServer, email_config, free_port
    from watch287g.testing.web_client import SECRET, Client
    from watch287g.web.app import create_app
    from watch287g.web.server import WebServer

    os.environ["WATCH287G_WEB_SECRET"] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = Store(tmp_path / "data")
        report = tmp_path / "report"
        report.mkdir()
        (report / "index.html").write_text("<h1>report</h1>" * 2000)
        smtp = SmtpServer().start()
        port = free_port()
        config_path = tmp_path / "watch287g.toml"
        config_path.write_text(email_config(smtp.port) + f"""
[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
report_dir = "{report}"
signups_per_address_per_day = 100
signups_per_ip_per_hour = 10000
""")
        settings = Settings(load_config(config_path))
        run_replay(settings, store, args.manifest, "ice", lambda step: None)
        with store.write() as db:
            ids = [add_subscription(db, (), make_destination(None, None, f"reader{i}@news.example"), "instant",
                                    make_filter(["FL"]), None, to_iso(utcnow()), by="web", origin="web",
                                    status=ACTIVE).id for i in range(SUBSCRIBERS)]
        server = WebServer(create_app(settings, store), ("127.0.0.1", port))
        server.start()
        client = Client(f"http://127.0.0.1:{port}")
        etag = client.get("/report/").headers["ETag"]
        links = settings.web.links
        results = {
            "healthz": timed(lambda i: client.get("/healthz"), args.requests),
            "metrics": timed(lambda i: client.get("/metrics"), args.requests),
            "subscribe form": timed(lambda i: client.get("/subscribe"), args.requests),
            "report 304": timed(lambda i: client.get("/report/", {"If-None-Match": etag}), args.requests),
            "sign-up (store + SMTP)": timed(lambda i: client.sign_up(f"new{i}@news.example"), args.requests),
            "one-click unsubscribe": timed(
                lambda i: client.post(links.url(STOP, ids[i], utcnow()), b"List-Unsubscribe=One-Click"),
                min(args.requests, SUBSCRIBERS)),
        }
        state_mb = store.path.stat().st_size / 1e6
        server.stop()
        smtp.stop()
    out = {"machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "state_mb": round(state_mb, 1), "endpoints": results}
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "out" / "web.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
