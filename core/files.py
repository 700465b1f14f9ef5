"""Writing files so that a crash leaves the old content or the new, never
half of either: one writer for the state, its archive and the heartbeat."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

TEMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: Path, payload: bytes, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, then rename it over
    ``path``. ``durable`` fsyncs the file and its folder, so the rename
    survives a power cut; files rewritten every few seconds skip it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_renamed(path, payload, durable)
    if durable:
        _fsync_dir(path.parent)


def write_named_by_content(folder: Path, chunks: Iterable[bytes], name_for: Callable[[str], str]) -> str:
    """Write ``chunks`` into ``folder`` under the name ``name_for(hex sha256
    of the content)`` without ever holding the whole content: streamed to a
    temporary file, fsynced, renamed. Content already there under that name
    is not written twice. The caller syncs the folder (``sync_folder``) once
    it has written all it needs. Returns the name."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".part.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        name = name_for(digest.hexdigest())
        if (folder / name).exists():
            os.unlink(tmp)
        else:
            os.replace(tmp, folder / name)
        return name
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def sync_folder(folder: Path) -> None:
    """Make the names written into ``folder`` survive a power cut."""
    _fsync_dir(folder)


def sync_file(path: Path) -> None:
    """Make a file written with ``durable=False`` survive a power cut (its
    content; its name needs ``sync_folder`` of its folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_renamed(path: Path, payload: bytes, durable: bool) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(folder: Path, name: str) -> int:
    """Remove the temporary files that writers of ``folder/name`` killed
    mid-write left behind. Call only while holding the lock those writers
    take, so no live writer's file is removed. Returns how many."""
    removed = 0
    for leftover in folder.glob(f".{name}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse O_RDONLY fsync on dirs
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
