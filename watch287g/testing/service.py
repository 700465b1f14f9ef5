"""`watch287g run` (or another long-running command, such as `serve`) as a
child process, with its log in a file, and the config that points it at the
local copy of ICE's page (fake_site.LocalServer). The service, web and Slack
app tests and benchmarks/bench_slackapp.py run the service with it.

A wait that fails raises AssertionError with the service's log, which pytest
reports as a test failure and a benchmark as its error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from watch287g.testing.fake_site import LocalServer
from watch287g.testing.fake_slack import VALID_TOKEN


def wait_for(predicate, timeout: float, what: str, service: "Service | None" = None):
    """The first true value of ``predicate()``, polled until ``timeout``
    seconds have passed (a hang guard, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if service is not None and service.proc.poll() is not None:
            raise AssertionError(f"the service exited ({service.proc.returncode}) waiting for {what}:\n"
                                 f"{service.log()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{service.log()}" if service else ""))


class Service:
    """The command as a child process. It starts with ``python -P`` in the
    data dir's parent folder, so no source checkout can shadow the installed
    package."""

    def __init__(self, config: Path, data_dir: Path, *extra: str, command: str = "run",
                 env: dict[str, str] | None = None) -> None:
        self.config, self.data_dir, self.command = config, data_dir, command
        self.workdir = data_dir.parent
        self.log_path = self.workdir / f"{command}-{time.monotonic_ns()}.log"
        env = {**os.environ, "SLACK_BOT_TOKEN": VALID_TOKEN, **(env or {})}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.cli_args("-v", command, *extra), cwd=self.workdir, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def cli_args(self, *args: str) -> list[str]:
        return [sys.executable, "-P", "-m", "watch287g.cli", "--config", str(self.config),
                "--data-dir", str(self.data_dir), *args]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.cli_args(*args), cwd=self.workdir, capture_output=True, text=True, timeout=60)

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
        """SIGTERM, then the exit code; a service still running after
        ``timeout`` seconds is killed and reported as hung."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.command} did not stop on SIGTERM:\n{self.log()}") from None


def write_config(path: Path, server: LocalServer, service: str, extra: str = "") -> Path:
    """A config for one source, ``ice``, on ``server``'s /287g, with no
    delays or retries, and the ``[service]`` lines given."""
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
