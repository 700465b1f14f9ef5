"""`watch287g run` as a child process, and what its tests share: a config
for the local copy of ICE's page (watch287g.testing.fake_site) with real
2025 workbooks, waiting for the service, and the loopback stand-ins as
fixtures. Shared by the service, web and Slack app tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from watch287g.state.store import Store
from watch287g.testing.fake_site import LocalServer, serve_ice_lists
from watch287g.testing.fake_slack import VALID_TOKEN, FakeSlack
from watch287g.testing.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]



REPLAY = ROOT / "tests" / "fixtures" / "replay"
PARTICIPATING_0306 = REPLAY / "participating" / "20250306T0900_participatingAgencies03062025am.xlsx"
PARTICIPATING_0307 = REPLAY / "participating" / "20250307T0900_participatingAgencies03072025am.xlsx"
PENDING_0221 = REPLAY / "pending" / "20250221T2149_pendingAgencies-20250221214937.xlsx"


def serve_ice(server: LocalServer, participating: Path, delay: float = 0.0) -> None:
    """ICE's page with this participating list and February's pending one."""
    serve_ice_lists(server, participating.read_bytes(), PENDING_0221.read_bytes(), delay)


def wait_for(predicate, timeout: float, what: str, service: "Service | None" = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if service is not None and service.proc.poll() is not None:
            pytest.fail(f"the service exited ({service.proc.returncode}) waiting for {what}:\n{service.log()}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{service.log()}" if service else ""))


class Service:
    """`watch287g run` (or another long-running command, such as `serve`)
    as a child process, its log in a file."""

    def __init__(self, config: Path, data_dir: Path, *extra: str, command: str = "run",
                 env: dict[str, str] | None = None) -> None:
        self.config, self.data_dir, self.command = config, data_dir, command
        self.log_path = data_dir.parent / f"{command}-{time.monotonic_ns()}.log"
        env = {**os.environ, "SLACK_BOT_TOKEN": VALID_TOKEN, **(env or {})}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.cli_args("-v", command, *extra), cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def cli_args(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "watch287g.cli", "--config", str(self.config),
                "--data-dir", str(self.data_dir), *args]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cli_args(*args), cwd=ROOT, capture_output=True, text=True, timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def heartbeat(self) -> dict:
        try:
            return json.loads((self.data_dir / "heartbeat").read_text())
        except (OSError, ValueError):
            return {}

    def wait_running(self) -> None:
        wait_for(lambda: self.heartbeat().get("pid") == self.proc.pid and self.heartbeat().get("next_runs"),
                 20, "the service to start", self)

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.command} did not stop on SIGTERM:\n{self.log()}")


def db(data_dir: Path):
    return Store(data_dir).read()


def checks(data_dir: Path) -> list[dict]:
    if not (data_dir / "state.json").exists():
        return []
    return sorted(db(data_dir).checks.all(), key=lambda c: c["started_at"])

def write_config(path: Path, server: LocalServer, service: str, extra: str = "") -> Path:
    path.write_text(f"""
[crawl]
download_delay = 0
retries = 0
timeout = 20
lock_wait = 1

[[sources]]
name = "ice"
type = "ice"
url = "{server.url('/287g')}"
failing_after = 2

[service]
jitter_seconds = 0
heartbeat_seconds = 1
{service}
{extra}
""")
    return path


@pytest.fixture
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture
def slack():
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def smtp():
    mail = SmtpServer().start()
    yield mail
    mail.stop()


def mails_to(smtp: SmtpServer, address: str) -> list[str]:
    """Plain-text bodies (with subject) of the mails received for address."""
    found = []
    for received in list(smtp.inbox):
        if address in received.rcpt_tos:
            message = received.message
            found.append(f"{message['Subject']}\n{message.get_body(('plain',)).get_content()}")
    return found
