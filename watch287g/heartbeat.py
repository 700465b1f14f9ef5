"""The service's heartbeat file and its process lock, for outside eyes.

``DATA_DIR/heartbeat`` is rewritten (whole, by rename) on every tick of a
running service: its mtime says the scheduler is alive, its JSON says who
(pid), since when, and what runs next. A monitor only has to compare the
mtime with the clock.

``DATA_DIR/service.lock`` is held for the life of ``watch287g run``: it keeps
a second service off the same data dir, and tells anyone asking whether the
pid in the heartbeat still belongs to a live service (a stale heartbeat from
a killed service, or a reused pid, never gets a signal).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from watch287g.core.files import atomic_write_bytes

HEARTBEAT_FILE = "heartbeat"
SERVICE_LOCK_FILE = "service.lock"


def heartbeat_path(data_dir: Path) -> Path:
    return Path(data_dir) / HEARTBEAT_FILE


def write_heartbeat(data_dir: Path, payload: dict) -> None:
    """Replace the heartbeat whole. No fsync: it is rewritten every tick, and
    after a crash a lost last beat is exactly what a monitor should see."""
    atomic_write_bytes(heartbeat_path(data_dir), json.dumps(payload, sort_keys=True).encode("utf-8"),
                       durable=False)


def read_heartbeat(data_dir: Path) -> dict | None:
    """The last heartbeat, with its file's mtime as ``touched_at`` (epoch
    seconds); None when there is none or it cannot be read."""
    path = heartbeat_path(data_dir)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["touched_at"] = path.stat().st_mtime
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def service_lock(data_dir: Path) -> FileLock:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(data_dir) / SERVICE_LOCK_FILE))


def service_running(data_dir: Path) -> bool:
    """Whether some process holds the service lock right now."""
    if not (Path(data_dir) / SERVICE_LOCK_FILE).exists():
        return False
    lock = service_lock(data_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def running_service_pid(data_dir: Path) -> int | None:
    """The pid of the live service on this data dir, or None."""
    beat = read_heartbeat(data_dir)
    if not beat or not isinstance(beat.get("pid"), int) or not service_running(data_dir):
        return None
    try:
        os.kill(beat["pid"], 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, but another user's: signalling it will say so
    return beat["pid"]
