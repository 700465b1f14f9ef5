"""Progress on stderr for long work: a redrawn line on a terminal, a line
every few percent in logs, nothing with --json or --quiet."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool, stream=None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_percent = -1
        self._started = time.monotonic()

    def update(self, done: int, detail: str = "") -> None:
        if not self.enabled:
            return
        percent = done * 100 // self.total
        if self.tty:
            elapsed = time.monotonic() - self._started
            line = f"\r{self.label} {done}/{self.total} ({percent}%) {elapsed:5.1f}s {detail}"
            self.stream.write(line[:120].ljust(120))
            self.stream.flush()
        elif percent // 10 != self._last_percent // 10 or done == self.total:
            self.stream.write(f"{self.label} {done}/{self.total} ({percent}%) {detail}\n")
            self.stream.flush()
        self._last_percent = percent

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
