"""One check as a child process, with a time limit.

A crawl that hangs (a server that trickles bytes, a parser stuck on a hostile
file) or crashes (out of memory, a bug) must not take the service with it, so
the service never crawls in its own process: it runs ``watch287g check
--source NAME --json --no-notify`` as a child in its own process group and
kills the whole group when the time is up. The child commits its own result
atomically (the store replaces its file whole), so killing it at any moment
leaves the state as it was before the check or as it is after it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from watch287g.core.config import Config
from watch287g.core.timeutil import now_iso

# How long a child gets between SIGTERM and SIGKILL: enough for Python to
# unwind; the state write itself is a rename, never half done.
TERM_TO_KILL_SECONDS = 5.0
_MESSAGE_CHARS = 300
_STOPPING = "stopped: the service is shutting down"

OK, FAILED, BUSY, TIMEOUT, CRASHED, INTERRUPTED = "ok", "failed", "busy", "timeout", "crashed", "interrupted"


@dataclass
class CheckOutcome:
    source: str
    status: str                 # ok | failed | busy | timeout | crashed | interrupted
    started_at: str
    finished_at: str
    exit_code: int | None
    message: str = ""
    events: list[dict] = field(default_factory=list)   # what the check recorded
    reused: bool = False        # not checked again: the last check was recent (Service.check_now)

    def summary(self) -> dict:
        return {"source": self.source, "status": self.status, "started_at": self.started_at,
                "finished_at": self.finished_at, "exit_code": self.exit_code, "message": self.message}


def cli_argv(config: Config, *args: str) -> list[str]:
    """``watch287g ARGS`` as a child of this process, reading the same config
    file (with the built-in default, it resolves the same way from the same
    environment). ``-P``: the working directory is not put on the module
    path, so a folder there named like a package cannot shadow the
    installed watch287g."""
    chosen = ["--config", str(config.path)] if config.path else []
    return [sys.executable, "-P", "-m", "watch287g.cli", *chosen, *args]


class CheckRunner:
    """Runs checks one at a time (the caller serialises) and can stop the
    running one from another thread."""

    def __init__(self, config: Config, data_dir: Path) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._closed = False        # set once at shutdown: no new child after that

    def argv(self, source: str) -> list[str]:
        return cli_argv(self.config, "--data-dir", str(self.data_dir), "-q",
                        "check", "--source", source, "--json", "--no-notify")

    def run(self, source: str, timeout: float) -> CheckOutcome:
        started = now_iso()
        with self._lock:
            if self._closed:
                return CheckOutcome(source, INTERRUPTED, started, started, None, _STOPPING)
            self._child = subprocess.Popen(self.argv(source), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, start_new_session=True)
        child = self._child
        timed_out = False
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill_group(child)
            out, err = child.communicate()
        finally:
            with self._lock:
                self._child = None
        return self._outcome(source, started, child.returncode, out, err, timed_out, timeout)

    def interrupt(self) -> None:
        """Stop the running check, if any, and start no more (service shutdown)."""
        with self._lock:
            self._closed = True
            child = self._child
        if child is not None:
            self._kill_group(child)

    def _kill_group(self, child: subprocess.Popen) -> None:
        for sig, wait in ((signal.SIGTERM, TERM_TO_KILL_SECONDS), (signal.SIGKILL, None)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                return
            try:
                child.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def _outcome(self, source: str, started: str, code: int, out: bytes, err: bytes,
                 timed_out: bool, timeout: float) -> CheckOutcome:
        payload = _last_json(out)
        stderr_line = _last_line(err)
        message = str(payload.get("message") or stderr_line)[:_MESSAGE_CHARS]
        reported = "sources" in payload      # the child finished its check and recorded it
        if code == 0 and reported:
            status = OK
        elif code == 1 and reported:
            status = FAILED
        elif self._closed:
            status, message = INTERRUPTED, _STOPPING
        elif timed_out:
            status, message = TIMEOUT, f"check timed out after {timeout:g} s and was killed"
        elif code == 3:
            status, message = BUSY, message or "another check is running"
        else:
            status = CRASHED
            how = f"killed by signal {-code}" if code < 0 else f"exited with code {code} without a result"
            message = f"check process {how}" + (f": {stderr_line}" if stderr_line else "")
        events = [event for result in payload.get("sources", []) if isinstance(result, dict)
                  for event in result.get("events", [])]
        return CheckOutcome(source, status, started, now_iso(), code, message[:_MESSAGE_CHARS], events)


def _last_json(out: bytes) -> dict:
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def _last_line(err: bytes) -> str:
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
