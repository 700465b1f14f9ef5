"""The store: atomic writes, the lock, and kill -9 in the middle of writing."""

from __future__ import annotations

import json
import os
import shutil
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


def _raise_in_the_session(db) -> None:
    db.meta.set("x", 2)
    raise RuntimeError("boom")


def _store_a_document_json_cannot_write(db) -> None:
    with db.agreements.editing("ice") as records:
        records.extend({"source": "ice", "uid": f"a{n}"} for n in range(1500))
        records.append({"source": "ice", "uid": "bad", "when": object()})   # fails in the part's second chunk


@pytest.mark.parametrize("damage, error", [(_raise_in_the_session, RuntimeError),
                                           (_store_a_document_json_cannot_write, TypeError)])
def test_failed_session_writes_nothing(tmp_path, damage, error):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.meta.set("x", 1)
    before = store.path.read_bytes()
    with pytest.raises(error):
        with store.write() as db:
            damage(db)
    assert store.path.read_bytes() == before
    assert not list(store.parts_dir.glob(".*.tmp"))
    assert not list(store.parts_dir.glob("agreements-*.json"))


def test_editing_a_source_again_sees_its_own_additions_and_nothing_of_a_failed_block(tmp_path):
    # Lists.editing keeps the last edited source's records between edits (a
    # replay edits them once a list): they must stay exactly the table's.
    store = Store(tmp_path / "data")
    with store.write() as db:
        with db.agreements.editing("ice") as records:
            records.append({"source": "ice", "uid": "a"})
        with db.agreements.editing("state") as records:
            records.append({"source": "state", "uid": "s"})
        with db.agreements.editing("ice") as records:
            assert [r["uid"] for r in records] == ["a"]
            records.append({"source": "ice", "uid": "b"})
        with pytest.raises(RuntimeError):
            with db.agreements.editing("ice") as records:
                records.append({"source": "ice", "uid": "never"})
                raise RuntimeError("the differ failed")
        with db.agreements.editing("ice") as records:
            assert [r["uid"] for r in records] == ["a", "b"]
            records[0]["status"] = "listed"
        with db.agreements.editing("state") as records:
            assert [r["uid"] for r in records] == ["s"]
    assert [(r["uid"], r.get("status")) for r in store.read().agreements.all()] == [
        ("a", "listed"), ("s", None), ("b", None)]


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


def test_files_archived_in_a_session_are_durable_before_the_state_that_cites_them(tmp_path, monkeypatch):
    from watch287g.state import store as store_module

    store = Store(tmp_path / "data")
    with store.write() as db:
        db.meta.set("x", 0)
    done = []
    monkeypatch.setattr(store_module, "sync_file", lambda path: done.append(("file", path)))
    monkeypatch.setattr(store_module, "sync_folder", lambda folder: done.append(("folder", folder)))
    writes = store_module.atomic_write_bytes
    monkeypatch.setattr(store_module, "atomic_write_bytes",
                        lambda path, payload, durable=True: (done.append(("write", path, durable)),
                                                             writes(path, payload, durable)))
    shas = ["ab" * 32, "ab" + "cd" * 31, "ef" * 32]
    with store.write() as db:
        for sha in shas:
            db.archive(sha, sha.encode(), ".xlsx")
        assert not any(step[0] in ("file", "folder") for step in done)    # nothing synced while archiving
        db.meta.set("x", 1)
    archive = store.archive_dir
    # Each file once, each of its folders once, the archive's own folder, and
    # only then the generation (durably).
    steps = [step for step in done if step[0] != "folder" or step[1] != store.parts_dir]
    assert steps == [*(("write", store.archive_path(sha, ".xlsx"), False) for sha in shas),
                     *sorted(("file", store.archive_path(sha, ".xlsx")) for sha in shas),
                     ("folder", archive / "ab"), ("folder", archive / "ef"), ("folder", archive),
                     ("write", store.path, True)]


def test_a_file_left_by_a_session_that_never_committed_is_synced_by_the_next_that_archives_it(tmp_path,
                                                                                              monkeypatch):
    from watch287g.state import store as store_module

    store = Store(tmp_path / "data")
    sha = "ab" * 32
    with pytest.raises(RuntimeError), store.write() as db:
        db.archive(sha, b"content", ".xlsx")
        raise RuntimeError("killed before the commit")
    synced = []
    monkeypatch.setattr(store_module, "sync_file", synced.append)
    with store.write() as db:
        db.archive(sha, b"content", ".xlsx")
        db.meta.set("x", 1)
    assert synced == [store.archive_path(sha, ".xlsx")]


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


# --- parts and history --------------------------------------------------------------------------------


def generation(store: Store) -> dict:
    return json.loads(store.path.read_bytes())


def segment_files(store: Store, table: str) -> list[str]:
    return [segment["file"] for segment in generation(store)["_parts"][table]["segments"]]


@pytest.fixture
def small_segments(monkeypatch):
    """Segments of three documents, so a few writes make several."""
    from watch287g.state import store as store_module

    for table in (store_module.Events, store_module.Snapshots, store_module.Checks, store_module.Outbox):
        monkeypatch.setattr(table, "SEAL_AT", 3)


def test_history_is_sealed_into_segments_read_only_when_asked_for(tmp_path, small_segments):
    store = Store(tmp_path / "data")
    for batch in range(4):
        with store.write() as db:
            db.events.add([{"type": "test", "batch": batch} for _ in range(3 if batch < 3 else 1)])
    first, *_ = segment_files(store, "events")
    assert len(segment_files(store, "events")) == 3 and "events" not in generation(store)
    (store.parts_dir / first).unlink()          # the segment of events 1-3, gone
    db = store.read()
    assert db.events.count() == 10
    assert db.events.get(10)["batch"] == 3 and db.events.get(5)["batch"] == 1   # never reads events 1-3
    with pytest.raises(StoreError, match=f"cannot read .*{first}"):
        db.events.get(2)


def test_the_tail_and_segments_read_as_one_log_in_order(tmp_path, small_segments):
    store = Store(tmp_path / "data")
    for batch in range(5):
        with store.write() as db:
            db.events.add([{"type": "test", "batch": batch} for _ in range(batch + 1)])
            assert [e["id"] for e in db.events.in_order()] == list(range(1, db.events.count() + 1))
    assert [e["batch"] for e in store.read().events.in_order()] == [b for b in range(5) for _ in range(b + 1)]
    with pytest.raises(KeyError):
        store.read().events.get(16)


def outbox_row(event_id: int, status: str = "pending") -> dict:
    return {"key": f"{event_id}:s1", "event_id": event_id, "subscription_id": "s1", "destination": "slack:C0TEST001",
            "cadence": "instant", "status": status, "due": True, "attempts": 0}


def test_settled_outbox_rows_leave_the_live_rows_and_come_back_when_unsettled(tmp_path, small_segments):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.outbox.add([outbox_row(i) for i in range(1, 9)])
    with store.write() as db:
        assert db.outbox.update_waiting(lambda row: row["event_id"] <= 6, lambda row: {"status": "sent"}) == 6
    assert len(segment_files(store, "outbox")) == 2          # six sent rows, sealed by three
    db = store.read()
    assert sorted(row["event_id"] for row in db.outbox.waiting()) == [7, 8]
    assert db.outbox.totals() == {"sent": 6, "pending": 2}
    assert db.outbox.keys_for([2, 8, 99]) == {"2:s1", "8:s1"}
    assert len(db.outbox.where(lambda row: row["status"] == "sent")) == 6 and db.outbox.count() == 8
    with store.write() as db:       # e.g. an operator re-queues a sent alert
        assert db.outbox.update(lambda row: row["event_id"] == 1, lambda row: {"status": "pending"}) == 1
    db = store.read()
    assert sorted(row["event_id"] for row in db.outbox.waiting()) == [1, 7, 8]
    assert db.outbox.totals() == {"sent": 5, "pending": 3}
    assert sorted(row["event_id"] for row in db.outbox.all()) == list(range(1, 9))


def test_checks_keep_the_newest_of_each_source_and_old_segments_are_dropped(tmp_path, small_segments, monkeypatch):
    from watch287g.state import store as store_module

    monkeypatch.setattr(store_module, "CHECKS_KEPT_PER_SOURCE", 4)
    store = Store(tmp_path / "data")
    for minute in range(12):
        with store.write() as db:
            for source in ("ice", "fl"):
                db.checks.add({"source": source, "started_at": f"2026-04-01T10:{minute:02d}:00Z",
                               "finished_at": f"2026-04-01T10:{minute:02d}:00Z", "ok": True})
    db = store.read()
    kept = [(c["source"], c["started_at"][14:16]) for c in db.checks.all()]
    assert kept == [(source, f"{minute:02d}") for minute in range(8, 12) for source in ("ice", "fl")]
    assert db.checks.count() == 8
    on_disk = sum(segment["count"] for segment in generation(store)["_parts"]["checks"]["segments"])
    assert on_disk < 24 - 4     # whole expired segments are gone


def test_snapshot_questions_are_answered_without_reading_old_segments(tmp_path, small_segments):
    store = Store(tmp_path / "data")
    verdicts = ["baseline", "accepted", "quarantined", "accepted", "accepted", "accepted", "accepted"]
    with store.write() as db:
        for day, verdict in enumerate(verdicts, start=1):
            db.snapshots.add({"source": "ice", "kind": "participating", "observed_at": f"2025-03-0{day}T09:00:00Z",
                              "sha256": f"sha-{day}", "verdict": verdict})
    for name in segment_files(store, "snapshots"):
        (store.parts_dir / name).unlink()          # days 1-6 are in the two segments: gone
    db = store.read()
    assert db.snapshots.quarantined_before("ice", "sha-3") and not db.snapshots.quarantined_before("ice", "sha-4")
    assert db.snapshots.newest_observed({"baseline", "accepted"}) == {("ice", "participating"): "2025-03-07T09:00:00Z"}
    assert db.snapshots.newest_observed({"quarantined"}) == {("ice", "participating"): "2025-03-03T09:00:00Z"}
    assert db.snapshots.recorded("ice", "participating", "sha-7", "2025-03-07T09:00:00Z")
    assert not db.snapshots.recorded("ice", "participating", "sha-9", "2025-03-09T09:00:00Z")


def test_a_state_written_as_one_document_is_read_and_moves_to_parts_at_the_next_write(tmp_path):
    store = Store(tmp_path / "data")
    store.data_dir.mkdir()
    old = {"meta": {"1": {"key": "x", "value": 1}},
           "events": {"1": {"type": "test", "id": 1}, "2": {"type": "test", "id": 2}},
           "agreements": {"1": {"source": "ice", "uid": "a"}},
           "outbox": {"1": outbox_row(1, "sent"), "2": outbox_row(2)},
           "checks": {"1": {"source": "ice", "started_at": "2026-01-01T00:00:00Z"}}}
    store.path.write_text(json.dumps(old))
    db = store.read()
    assert db.events.count() == 2 and db.agreements.count() == 1 and db.meta.get("x") == 1
    with store.write() as db:
        db.events.add([{"type": "test"}])
    assert set(generation(store)) == {"meta", "_format", "_parts", "_garbage"}
    assert json.loads(store.backup_path.read_bytes()) == old        # the backup is the old state, whole
    db = store.read()
    assert [e["id"] for e in db.events.in_order()] == [1, 2, 3]
    assert db.agreements.of_source("ice")[0]["uid"] == "a"
    assert [row["event_id"] for row in db.outbox.waiting()] == [2] and db.outbox.totals() == {"sent": 1, "pending": 1}
    assert db.checks.count() == 1 and db.meta.get("x") == 1


def test_the_backup_keeps_its_parts_and_unnamed_parts_go_after_a_grace_period(tmp_path, monkeypatch):
    from watch287g.state import store as store_module

    store = Store(tmp_path / "data")
    names = []
    for n in range(3):
        with store.write() as db:
            with db.agreements.editing("ice") as records:
                records.append({"source": "ice", "uid": f"a{n}"})
        names.append(generation(store)["_parts"]["agreements"]["file"])
    orphan = store.parts_dir / "events-0123456789abcdef01234567.json"
    orphan.write_text("{}")                      # what a writer killed before its commit leaves
    with store.write() as db:
        db.meta.set("x", 1)
    assert all((store.parts_dir / name).exists() for name in names)     # within the grace period
    # Named by neither the state nor its backup: the first two lists, and the orphan.
    assert set(generation(store)["_garbage"]) == {names[0], names[1], orphan.name}
    monkeypatch.setattr(store_module, "GARBAGE_GRACE_SECONDS", 0)
    with store.write() as db:
        db.meta.set("x", 2)
    assert not any((store.parts_dir / name).exists() for name in (names[0], names[1], orphan.name))
    assert (store.parts_dir / names[2]).exists()      # named by both the state and its backup
    restored = tmp_path / "restored"
    shutil.copytree(store.data_dir, restored)
    shutil.copyfile(store.backup_path, restored / "state.json")
    assert [r["uid"] for r in Store(restored).read().agreements.all()] == ["a0", "a1", "a2"]


def test_a_damaged_part_is_a_one_line_error_naming_the_backup(tmp_path):
    store = Store(tmp_path / "data")
    for uid in ("a", "b"):
        with store.write() as db:
            with db.agreements.editing("ice") as records:
                records.append({"source": "ice", "uid": uid})
    part = store.parts_dir / generation(store)["_parts"]["agreements"]["file"]
    part.write_bytes(part.read_bytes()[:-5])
    db = store.read()
    assert db.meta.get("x") is None               # what the part does not hold still reads
    with pytest.raises(StoreError) as refused:
        db.agreements.all()
    message = str(refused.value)
    assert message.startswith(f"cannot read {part}") and "state.json.1" in message and "\n" not in message


def test_the_latest_check_of_a_source_is_found_in_the_tail_or_the_newest_segment_holding_it(tmp_path,
                                                                                            small_segments):
    store = Store(tmp_path / "data")
    with store.write() as db:
        db.checks.add({"source": "fl", "started_at": "2026-04-01T09:00:00Z", "ok": False})
        for minute in range(7):
            db.checks.add({"source": "ice", "started_at": f"2026-04-01T10:{minute:02d}:00Z", "ok": True})
    assert len(segment_files(store, "checks")) == 2          # fl's only check is sealed with ice's first two
    db = store.read()
    assert db.checks.latest("ice")["started_at"] == "2026-04-01T10:06:00Z"
    assert db.checks.latest("fl")["started_at"] == "2026-04-01T09:00:00Z"
    assert db.checks.latest("tx") is None


def test_of_two_checks_started_in_the_same_second_the_later_recorded_is_the_latest(tmp_path):
    store = Store(tmp_path / "data")
    for message in ("first", "second"):
        with store.write() as db:
            db.checks.add({"source": "ice", "started_at": "2026-04-01T10:06:00Z", "ok": True, "message": message})
    assert store.read().checks.latest("ice")["message"] == "second"


def test_a_list_larger_than_one_write_chunk_is_written_in_pieces_and_reads_back_whole(tmp_path):
    store = Store(tmp_path / "data")
    agreements = [{"source": "ice", "uid": f"a{n}", "agency": f"Agency {n} \u2019s \"office\""} for n in range(2500)]
    with store.write() as db:
        with db.agreements.editing("ice") as records:
            records.extend(agreements)
    part, = store.parts_dir.glob("agreements-*.json")
    payload = part.read_bytes()
    # The streamed file is the one-shot JSON of the documents, byte for byte,
    # so parts written before streaming keep their names.
    assert payload == json.dumps(json.loads(payload), ensure_ascii=False, separators=(",", ":")).encode()
    assert [dict(doc) for doc in store.read().agreements.of_source("ice")] == agreements


def test_a_large_meta_value_lives_in_a_part_of_its_own_read_only_when_asked_for(tmp_path, monkeypatch):
    from watch287g.state import store as store_module

    store = Store(tmp_path / "data")
    keys = [f"TX|AGENCY {n}|Jail Enforcement Model" for n in range(5000)]
    with store.write() as db:
        db.meta.set("last_good", {"rows": 5000, "keys": keys})
        db.meta.set("small", 1)
        db.flush()
        assert db.meta.get("last_good")["keys"] == keys      # still there after the checkpoint
    assert "AGENCY 4999" not in store.path.read_text()       # the generation names it, does not hold it
    meta_parts = list(store.parts_dir.glob("meta-*.json"))
    assert len(meta_parts) == 1
    loads = []
    monkeypatch.setattr(store_module._Parts, "load", lambda self, name, decode=None: loads.append(name) or
                        json.loads((self.store.parts_dir / name).read_bytes()))
    with store.write() as db:
        db.meta.set("small", 2)                              # a session that does not need it...
    assert loads == [] and list(store.parts_dir.glob("meta-*.json")) == meta_parts   # ...neither reads nor rewrites it
    db = store.read()
    assert db.meta.get("last_good") == {"rows": 5000, "keys": keys} and db.meta.get("small") == 2
    assert loads == [meta_parts[0].name]
    monkeypatch.undo()
    with store.write() as db:
        db.meta.set("last_good", {"rows": 1, "keys": keys[:1]})      # small again: back in the generation
    assert json.loads(store.path.read_bytes())["_parts"]["meta"] == {"values": {}}
    assert store.read().meta.get("last_good") == {"rows": 1, "keys": keys[:1]}
    # The backup names the old part, which is kept with it.
    assert json.loads(store.backup_path.read_bytes())["_parts"]["meta"]["values"]["last_good"] == meta_parts[0].name
    assert meta_parts[0].exists()
