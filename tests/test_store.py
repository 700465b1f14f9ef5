"""The store: atomic writes, the lock, and kill -9 in the middle of writing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from watch287g.state.store import Store, StoreBusy, StoreError

WRITER = textwrap.dedent("""
    import sys
    from watch287g.state.store import Store
    store = Store(sys.argv[1])
    while True:
        with store.write() as db:
            n = db.get_meta("writes", 0) + 1
            # A batch big enough that the JSON write takes a while.
            db.append("events", [{"type": "test", "batch": n, "pad": "x" * 200} for _ in range(200)],
                      id_field="id")
            db.set_meta("writes", n)
        print(n, flush=True)
""")


def check_consistent(store: Store) -> int:
    db = store.read()
    writes = db.get_meta("writes", 0)
    events = db.raw_table("events")
    assert len(events) == writes * 200
    for key, event in events.items():
        assert event["id"] == int(key)
        assert 1 <= event["batch"] <= writes
    return writes


def test_kill_9_during_writes_leaves_a_consistent_store(tmp_path):
    store = Store(tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    seen = 0
    for delay in (0.3, 0.45, 0.6, 0.75, 0.9):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store.data_dir)], env=env,
                                stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        writes = check_consistent(store)
        assert writes >= seen  # committed writes are never lost
        seen = writes
    assert seen > 0
    leftovers = [p.name for p in store.data_dir.iterdir() if p.name.endswith(".tmp")]
    # A killed writer may leave its temporary file; it is never read as state.
    assert all(name.startswith(".state.json.") for name in leftovers)


def test_failed_session_writes_nothing(tmp_path):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.set_meta("x", 1)
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError):
        with store.write() as db:
            db.set_meta("x", 2)
            raise RuntimeError("boom")
    assert store.path.read_bytes() == before


def test_second_writer_waits_then_gives_up_with_a_clear_error(tmp_path):
    store = Store(tmp_path / "data", lock_timeout=0.2)
    with store.write():
        with pytest.raises(StoreBusy, match="another watch287g process is writing"):
            with Store(tmp_path / "data", lock_timeout=0.2).write():
                pass


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    store = Store(tmp_path / "data")
    store.data_dir.mkdir()
    store.path.write_text("{not json")
    with pytest.raises(StoreError, match="cannot read"):
        store.read()
    store.path.write_text(json.dumps([1, 2]))
    with pytest.raises(StoreError, match="not a watch287g state file"):
        store.read()


def test_archive_is_content_addressed_and_write_once(tmp_path):
    store = Store(tmp_path / "data")
    sha = "ab" * 32
    path = store.archive(sha, b"first")
    assert path == store.data_dir / "archive" / "ab" / f"{sha}.xlsx"
    store.archive(sha, b"second")
    assert path.read_bytes() == b"first"
    with pytest.raises(StoreError):
        store.archive("../../etc/passwd", b"x")
