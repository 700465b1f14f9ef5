"""`watch287g run` rewrites the report after each successful check when
``[report] out_dir`` is set. The build runs as a child process (like the
checks), so its memory and any failure stay out of the service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from watch287g.check_runner import config_args
from watch287g.core.errors import UserError
from watch287g.settings import Settings

REPORT_TIMEOUT_SECONDS = 600


def rebuild_report(app: Settings, data_dir: Path) -> None:
    """Write the report to the configured folder; a failure is one line."""
    if app.report.out_dir is None:
        return
    # -P: the working directory is not put on the module path, so a folder
    # there named like a package cannot shadow the installed watch287g.
    argv = [sys.executable, "-P", "-m", "watch287g.cli", *config_args(app.config), "--data-dir", str(data_dir),
            "-q", "report"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=REPORT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise UserError(f"the report took over {REPORT_TIMEOUT_SECONDS} s and was stopped") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise UserError(f"the report was not written: {last}")
