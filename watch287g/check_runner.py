"""One check as a child process, with a time limit.

A crawl that hangs (a server that trickles bytes, a parser stuck on a hostile
file) or crashes (out of memory, a bug) must not take the service with it, so
the service never crawls in its own process: each check is ``watch287g check
--source NAME --json --no-notify`` in a child of its own process group,
forked from the check server (watch287g/check_server.py, on
watch287g/forkserver.py), which has Scrapy and the spiders imported
already. When the time is up the server kills the child's whole group
(SIGTERM, then SIGKILL). The child commits its own result atomically (the
store replaces its file whole), so killing it at any moment leaves the
state as it was before the check or as it is after it. A check server that
dies is started again for the next check; the check it was running is a
crashed check, which the service records as failed.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from watch287g.core.config import Config
from watch287g.core.timeutil import now_iso
from watch287g.forkserver import TERM_TO_KILL_SECONDS, ForkedChild, ForkServer, ForkServerError

_MESSAGE_CHARS = 300
_STOPPING = "stopped: the service is shutting down"
# The check server's module (a name, not an import: it imports the CLI).
CHECK_SERVER = "watch287g.check_server"
# After a kill request, how long the server may take to report the child
# gone before the service gives up on the server itself.
_KILL_REPORT_SECONDS = TERM_TO_KILL_SECONDS + 10

OK, FAILED, BUSY, TIMEOUT, CRASHED, INTERRUPTED = "ok", "failed", "busy", "timeout", "crashed", "interrupted"

log = logging.getLogger(__name__)


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


def config_args(config: Config) -> list[str]:
    """How a child of this process reads the same config file (with the
    built-in default, it resolves the same way from the same environment)."""
    return ["--config", str(config.path)] if config.path else []


class CheckRunner:
    """Runs checks one at a time (the caller serialises) and can stop the
    running one from another thread."""

    def __init__(self, config: Config, data_dir: Path) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.server = ForkServer(CHECK_SERVER)
        self._check: ForkedChild | None = None
        self._lock = threading.Lock()
        self._closed = False        # set once at shutdown: no new child after that

    def argv(self, source: str) -> list[str]:
        """The child's ``watch287g`` arguments."""
        return [*config_args(self.config), "--data-dir", str(self.data_dir), "-q", "check", "--source", source,
                "--json", "--no-notify"]

    def start(self) -> None:
        """Start the check server now rather than at the first check."""
        with self._lock:
            if not self._closed:
                self.server.start()

    def run(self, source: str, timeout: float) -> CheckOutcome:
        started = now_iso()
        with self._lock:
            if self._closed:
                return CheckOutcome(source, INTERRUPTED, started, started, None, _STOPPING)
            try:
                self._check = self.server.start_child(self.argv(source))
            except ForkServerError as err:
                return CheckOutcome(source, CRASHED, started, now_iso(), None,
                                    f"check process could not start: {err}"[:_MESSAGE_CHARS])
        check = self._check
        timed_out = False
        try:
            if not check.wait(timeout):
                timed_out = True
                self.server.kill()
                if not check.wait(_KILL_REPORT_SECONDS):
                    log.warning("the check server did not stop check %s: killing both", source)
                    check.abandon()
                    self.server.close()
                    check.wait(None)
        finally:
            with self._lock:
                self._check = None
        return self._outcome(source, started, check.returncode, check.stdout, check.stderr, timed_out, timeout)

    def interrupt(self) -> None:
        """Stop the running check, if any, and start no more (service shutdown)."""
        with self._lock:
            self._closed = True
            running = self._check is not None
        if running:
            self.server.kill()

    def close(self) -> None:
        """Stop the check server (at shutdown)."""
        with self._lock:
            self._closed = True
            self.server.close()

    def _outcome(self, source: str, started: str, code: int | None, out: bytes, err: bytes,
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
            if code is None:
                how = "was lost: the check server died while it ran"
            elif code < 0:
                how = f"killed by signal {-code}"
            else:
                how = f"exited with code {code} without a result"
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
