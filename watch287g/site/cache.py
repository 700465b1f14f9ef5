"""Small JSON caches of derived data (map shapes, list counts): read if
present and of the right key, rewritten whole. Losing one only costs the
time to compute it again."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from watch287g.core.files import atomic_write_bytes

log = logging.getLogger(__name__)


def load(path: Path, key: str):
    """The cached value stored under ``key``, or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("value") if isinstance(data, dict) and data.get("key") == key else None


def store(path: Path, key: str, value) -> None:
    payload = json.dumps({"key": key, "value": value}, separators=(",", ":")).encode()
    try:
        atomic_write_bytes(path, payload, durable=False)
    except OSError as err:
        log.warning("cannot write the cache %s: %s", path, err)
