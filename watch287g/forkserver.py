"""A fork server: a pre-imported parent that forks one child per request.

A cold ``watch287g check`` spends most of its time importing Scrapy,
Twisted and the spiders before it sends a single request. The service
checks every few minutes, so it starts one server process once, as

    python -P -m watch287g.check_server FD

(``-P``: a folder in the working directory named like a package cannot
shadow the installed one; watch287g/check_server.py says what is imported
and what each child runs), and asks it for a child per check. This module
is the mechanism, on both sides: ``serve`` in the server, ``ForkServer`` in
the service (used by watch287g/check_runner.py). Each child starts its own
session (its own process group) and takes the pipes the service gave for
its stdout and stderr.

The two talk over a Unix SOCK_SEQPACKET socket (FD), one JSON object per
packet:

* service → server: ``{"op": "run", "argv": [...]}`` with the child's
  stdout and stderr write ends attached (SCM_RIGHTS); ``{"op": "kill"}``
  stops the running child: SIGTERM to its process group, SIGKILL
  ``TERM_TO_KILL_SECONDS`` later if it is still there;
* server → service: ``{"ready": pid}`` once, after the imports;
  ``{"started": pid}`` or ``{"error": why}`` per request;
  ``{"exited": pid, "code": code}`` (``code`` as ``Popen.returncode``:
  negative for a signal) when the child has been reaped.

Only the server kills and reaps its children, so a process group it
signals can never be a reused one. When the service goes away (the socket
reaches end of file), the server stops the running child and exits.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from typing import Callable

# How long a child gets between SIGTERM and SIGKILL: enough for Python to
# unwind; the state write itself is a rename, never half done.
TERM_TO_KILL_SECONDS = 5.0
# How long the server may take to import everything (a cold start on a slow disk).
READY_TIMEOUT_SECONDS = 120.0
_PACKET = 1 << 16
EXIT_INTERNAL = 70      # a child whose run raised


class ForkServerError(RuntimeError):
    """The fork server could not start, could not start a child, or died."""


# --- the server ----------------------------------------------------------------------------------


def serve(sock: socket.socket, run: Callable[[list[str]], int]) -> None:
    """In the server: tell the service it is ready, then fork a child
    running ``run(argv)`` (its exit code) per request, one at a time, until
    the service goes away."""
    # Objects that exist now are shared with every child; kept out of the
    # collector, they stay shared instead of being copied when it scans them.
    gc.freeze()
    if not _send(sock, {"ready": os.getpid()}):
        return
    while True:
        message, fds = _receive(sock)
        if message is None:
            return
        if message.get("op") != "run":
            _close_all(fds)      # a kill that crossed the child's exit: nothing is running
            continue
        try:
            pid = _fork(sock, run, message["argv"], fds)
        except OSError as err:
            _send(sock, {"error": f"cannot start a child process: {err.strerror or err}"})
            continue
        finally:
            _close_all(fds)
        _send(sock, {"started": pid})
        code = _supervise(sock, pid)
        if code is None:
            return
        _send(sock, {"exited": pid, "code": code})


def _fork(sock: socket.socket, run: Callable[[list[str]], int], argv: list[str], fds: list[int]) -> int:
    if len(fds) != 2:
        raise OSError(f"a request needs its stdout and stderr, got {len(fds)} descriptors")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid:
        return pid
    code = EXIT_INTERNAL
    try:
        os.setsid()                     # its own process group: the kill reaches it and only it
        sock.close()
        null = os.open(os.devnull, os.O_RDONLY)
        for target, fd in ((0, null), (1, fds[0]), (2, fds[1])):
            os.dup2(fd, target)
        _close_all([null, *fds])
        code = run(argv)
    except BaseException:  # noqa: BLE001 - the child reports every failure as its exit code
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _supervise(sock: socket.socket, pid: int) -> int | None:
    """Wait for the child, stopping it when asked; its exit code, or None
    when the service went away (the child is stopped and reaped then too)."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            readable, _, _ = select.select([sock, pidfd], [], [])
            if pidfd in readable:
                return _reap(pid)
            message, fds = _receive(sock)
            _close_all(fds)
            if message is None:
                _stop(pid, pidfd)
                _reap(pid)
                return None
            if message.get("op") == "kill":
                _stop(pid, pidfd)
    finally:
        os.close(pidfd)


def _stop(pid: int, pidfd: int) -> None:
    """SIGTERM to the child's process group, then SIGKILL if the child is
    still there after TERM_TO_KILL_SECONDS. The child is not reaped yet, so
    its process group id cannot have been reused."""
    for sig, wait in ((signal.SIGTERM, TERM_TO_KILL_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if wait is None or select.select([pidfd], [], [], wait)[0]:
            return


def _reap(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _receive(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One packet: (message, attached descriptors); (None, []) at end of file."""
    try:
        data, fds, _flags, _address = socket.recv_fds(sock, _PACKET, 2)
    except ConnectionResetError:
        return None, []
    if not data:
        _close_all(fds)
        return None, []
    return json.loads(data), list(fds)


def _send(sock: socket.socket, message: dict, fds: list[int] | None = None) -> bool:
    """Send one packet; False when the other side is gone."""
    payload = json.dumps(message).encode()
    try:
        if fds:
            socket.send_fds(sock, [payload], fds)
        else:
            sock.send(payload)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# --- the service's side -----------------------------------------------------------------------------


class ForkServer:
    """The service's side: starts ``python -P -m MODULE FD`` (a module whose
    main calls ``serve``) and runs children through it. ``start_child`` and
    ``wait`` are for one thread (the service's checks worker); ``kill`` may
    come from any thread."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server unless it runs; wait until it has imported everything."""
        if self.running():
            return
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", self.module, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True)     # a Ctrl-C in the service's terminal is the service's to handle
        finally:
            theirs.close()
        self._sock = ours
        message = self._next_message(time.monotonic() + READY_TIMEOUT_SECONDS)
        if not message or "ready" not in message:
            code = self._proc.poll()
            self.close()
            raise ForkServerError(f"the fork server {self.module} did not start"
                                  + (f" (exit code {code}; see the log above)" if code is not None else ""))

    def start_child(self, argv: list[str]) -> "ForkedChild":
        """Fork a child running ARGV; raises ForkServerError when the server
        cannot (it is restarted once if it had died)."""
        for _ in range(2):
            self.start()
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            try:
                with self._send_lock:
                    sent = _send(self._sock, {"op": "run", "argv": argv}, [out_write, err_write])
            finally:
                _close_all([out_write, err_write])
            reply = self._next_message(time.monotonic() + READY_TIMEOUT_SECONDS) if sent else None
            if reply and "started" in reply:
                return ForkedChild(self._sock, reply["started"], out_read, err_read)
            _close_all([out_read, err_read])
            if reply and "error" in reply:
                raise ForkServerError(reply["error"])
            self.close()       # it died between checks: a new one, once
        raise ForkServerError(f"the fork server {self.module} died as the child started")

    def kill(self) -> None:
        """Ask the server to stop the running child (SIGTERM, then SIGKILL)."""
        with self._send_lock:
            if self._sock is not None:
                _send(self._sock, {"op": "kill"})

    def close(self) -> None:
        """Stop the server: at end of file it stops a running child and exits."""
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            sock.close()
        if proc is not None:
            try:
                proc.wait(timeout=TERM_TO_KILL_SECONDS + 5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _next_message(self, deadline: float) -> dict | None:
        """The server's next message; None at end of file or past the deadline."""
        if not select.select([self._sock], [], [], max(deadline - time.monotonic(), 0))[0]:
            return None
        message, fds = _receive(self._sock)
        _close_all(fds)
        return message


class ForkedChild:
    """One child: its output, and its exit code once the server reaped it."""

    def __init__(self, sock: socket.socket, pid: int, out_fd: int, err_fd: int) -> None:
        self._sock = sock               # the server's: it reports the exit there
        self.pid = pid
        self.returncode: int | None = None
        self.lost = False               # the server died while the child ran
        self._out_fd, self._err_fd = out_fd, err_fd
        self._output = {out_fd: bytearray(), err_fd: bytearray()}
        self._open = [out_fd, err_fd]

    @property
    def stdout(self) -> bytes:
        return bytes(self._output[self._out_fd])

    @property
    def stderr(self) -> bytes:
        return bytes(self._output[self._err_fd])

    def wait(self, timeout: float | None) -> bool:
        """Read the child's output until it has exited and its pipes are
        closed; False when ``timeout`` seconds passed first (the child may
        still run)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._open or self._awaiting_exit():
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            watched = self._open + ([self._sock] if self._awaiting_exit() else [])
            for ready in select.select(watched, [], [], wait)[0]:
                if ready in self._open:
                    self._read(ready)
                else:
                    self._on_message()
        return True

    def _awaiting_exit(self) -> bool:
        return self.returncode is None and not self.lost

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, _PACKET)
        if chunk:
            self._output[fd] += chunk
        else:
            os.close(fd)
            self._open.remove(fd)

    def _on_message(self) -> None:
        message, fds = _receive(self._sock)
        _close_all(fds)
        if message is None:
            self.abandon()
        elif message.get("exited") == self.pid:
            self.returncode = int(message["code"])

    def abandon(self) -> None:
        """The server died, or no longer answers: it cannot stop its child,
        so this side does (SIGKILL to the child's group) if the child's pipes
        are still open — then it still exists, so its process group id is
        still its own — and stops waiting for the server's report."""
        self.lost = True
        if self._open:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
