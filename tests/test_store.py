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
            n = db.meta.get("writes", 0) + 1
            # A batch big enough that the JSON write takes a while.
            db.events.add([{"type": "test", "batch": n, "pad": "x" * 200} for _ in range(200)])
            db.meta.set("writes", n)
        print(n, flush=True)
""")


def check_consistent(store: Store) -> int:
    db = store.read()
    writes = db.meta.get("writes", 0)
    events = db.events.in_order()
    assert len(events) == writes * 200
    for position, event in enumerate(events, start=1):
        assert event["id"] == position
        assert 1 <= event["batch"] <= writes
    return writes


def test_kill_9_during_writes_leaves_a_consistent_store(tmp_path):
    store = Store(tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    seen = 0
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store.data_dir)], env=env,
                                stdout=subprocess.PIPE, text=True)
        # Kill at a different moment of a later write each time, however slowly the writer started.
        first = proc.stdout.readline()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        finished = [int(n) for n in (first + proc.stdout.read()).split()]
        writes = check_consistent(store)
        assert finished and finished[0] == seen + 1      # each writer went on from the last committed write...
        assert writes >= finished[-1]                    # ...and no write it finished is lost
        seen = writes
    leftovers = [p.name for p in store.data_dir.iterdir() if p.name.endswith(".tmp")]
    # A killed writer may leave its temporary file; it is never read as state.
    assert all(name.startswith(".state.json.") for name in leftovers)


def test_failed_session_writes_nothing(tmp_path):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.meta.set("x", 1)
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError):
        with store.write() as db:
            db.meta.set("x", 2)
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
    path = store.archive(sha, b"first", ".xlsx")
    assert path == store.data_dir / "archive" / "ab" / f"{sha}.xlsx"
    store.archive(sha, b"second", ".xlsx")
    assert path.read_bytes() == b"first"
    with pytest.raises(StoreError):
        store.archive("../../etc/passwd", b"x", ".xlsx")


def test_html_table_snapshots_are_archived_as_json(tmp_path):
    from watch287g.readers.html_table import snapshot_from_table
    from watch287g.state.ingest import ingest
    from watch287g.state.policy import Policy

    rows = [[["STATE", None], ["LAW ENFORCEMENT AGENCY", None], ["SUPPORT TYPE", None]],
            [["FL", None], ["Polk County Sheriff's Office", None], ["Task Force Model", None]]]
    snapshot = snapshot_from_table("fl", "pending", "2025-06-01T09:00:00Z", rows)
    store = Store(tmp_path / "data")
    with store.write() as db:
        ingest(db, snapshot, Policy())
    assert store.archive_path(snapshot.sha256, ".json").read_bytes() == snapshot.content
    assert not list(store.archive_dir.rglob("*.xlsx"))


def test_every_write_keeps_the_previous_good_state_and_says_how_to_restore(tmp_path):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.meta.set("x", 1)
    with store.write() as db:
        db.meta.set("x", 2)
    assert store.backup_path.exists()
    assert Store(tmp_path / "data").read().meta.get("x") == 2
    # A damaged state file: reading fails with one line naming the backup.
    good = store.path.read_bytes()
    store.path.write_bytes(good[: len(good) // 2])
    with pytest.raises(StoreError) as refused:
        store.read()
    message = str(refused.value)
    assert "state.json.1" in message and "\n" not in message
    import json
    assert json.loads(store.backup_path.read_bytes())["meta"]


def test_temp_files_of_killed_writes_are_removed_by_the_next_writer(tmp_path):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.meta.set("x", 1)
    leftovers = [store.data_dir / f".state.json.killed{n}.tmp" for n in range(3)]
    for leftover in leftovers:
        leftover.write_bytes(b"x" * 1000)
    unrelated = store.data_dir / "notes.tmp"
    unrelated.write_text("mine")
    with store.write() as db:
        db.meta.set("x", 2)
    assert not any(leftover.exists() for leftover in leftovers)
    assert unrelated.exists()


def test_a_data_dir_that_is_a_file_is_refused_in_one_line(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for attempt in (lambda: Store(not_a_dir).read(), lambda: Store(not_a_dir).write().__enter__()):
        with pytest.raises(StoreError, match="is a file, not a folder"):
            attempt()


def test_repositories_hand_out_read_only_documents(tmp_path):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.events.add([{"type": "test"}])
        [event] = db.events.all()
        with pytest.raises(TypeError):
            event["type"] = "changed"       # a write must go through a repository method
    assert store.read().events.get(1)["type"] == "test"
