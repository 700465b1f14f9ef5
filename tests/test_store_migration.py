"""The list parts' form on disk (state/list_layout.py), and data dirs of the
form before it (format 2, tests/fixtures/state-format2, made by main's code)
opened, read and moved to the current form whole."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from watch287g.state import list_layout, store as store_module
from watch287g.state.store import FORMAT, Store, StoreError

from tests.conftest import FIXTURES

OLD_DIR = FIXTURES / "state-format2"
REPLAY = FIXTURES / "replay"
EVIDENCE = {"kind": "participating", "file_name": "a.xlsx", "sha256": "a" * 64, "observed_at": "2026-11-01T09:00:00Z"}


def old_records(table: str) -> dict[str, dict]:
    generation = json.loads((OLD_DIR / "state.json").read_bytes())
    return json.loads((OLD_DIR / "parts" / generation["_parts"][table]["file"]).read_bytes())


def as_now(old: dict) -> dict:
    """What the current code makes of a format-2 record, spelled out by hand."""
    record = {name: value for name, value in old.items() if name not in ("last_listed", "row")}
    evidence = {name: value for name, value in old["last_listed"].items() if name != "line"}
    return {**record, "listed_in": evidence, "listed_line": old["last_listed"]["line"],
            "listed_values": old["row"]["values"]}


@pytest.fixture
def old_store(tmp_path) -> Store:
    shutil.copytree(OLD_DIR, tmp_path / "data", ignore=shutil.ignore_patterns("README.md"))
    return Store(tmp_path / "data")


def record(n: int, **fields) -> dict:
    return {"uid": f"u{n}", "source": "ice", "status": "listed", "aliases": [], "missing_count": 0,
            "from_pending": False, "signed": None, "agency": f"Agency {n} \u2019s \"office\"",
            "last_seen": EVIDENCE["observed_at"], "listed_in": EVIDENCE, "listed_line": n + 2,
            "listed_values": {"STATE": "TEXAS", "LAW ENFORCEMENT AGENCY": f"Agency {n}"}, **fields}


def round_trip(docs: dict[str, dict]) -> dict[str, dict]:
    return list_layout.decode(json.loads(b"".join(list_layout.encode(docs))))


def test_list_records_of_mixed_shapes_read_back_exactly():
    other = {**EVIDENCE, "sha256": "b" * 64, "file_url": "https://www.ice.gov/x.xlsx"}
    docs = {str(n): record(n) for n in range(1, 2600)}           # more than two write chunks
    docs["7"] = record(7, status="merged", merged_into="u8", listed_in=other, missing_count=3)
    docs["9"] = {name: value for name, value in record(9).items() if name != "signed"}
    docs["11"] = record(11, listed_values={"STATE": "TEXAS", "TYPE": None}, from_pending=1)
    docs["2600"] = {"uid": "bare", "source": "ice"}               # a record without any list evidence
    back = round_trip(docs)
    assert back == docs and list(back) == list(docs)
    assert [list(doc) for doc in back.values()] == [list(doc) for doc in docs.values()]    # field order too
    # 1 == True in Python: a column holding both is not collapsed into one of them.
    assert type(back["11"]["from_pending"]) is int and back["12"]["from_pending"] is False


def test_records_of_one_list_share_its_evidence_once_on_disk_and_in_memory():
    docs = {str(n): record(n) for n in range(1, 501)}
    payload = b"".join(list_layout.encode(docs))
    assert payload.count(EVIDENCE["sha256"].encode()) == 1 and payload.count(b"LAW ENFORCEMENT AGENCY") == 1
    back = list_layout.decode(json.loads(payload))
    assert len({id(doc["listed_in"]) for doc in back.values()}) == 1
    # Lists and rows are each record's own: the differ changes them in place.
    assert len({id(doc["aliases"]) for doc in back.values()}) == 500
    assert len({id(doc["listed_values"]) for doc in back.values()}) == 500


@pytest.mark.parametrize("damage", [
    lambda part: part.update(layout="columns/9"),
    lambda part: part["groups"][0][2].pop(),
    lambda part: part["groups"][0][1].append(99),
    lambda part: part.update(evidence=[]),
    lambda part: part.pop("shapes"),
])
def test_a_damaged_list_part_is_a_one_line_error(damage):
    part = json.loads(b"".join(list_layout.encode({str(n): record(n) for n in range(1, 5)})))
    damage(part)
    with pytest.raises(list_layout.LayoutError) as refused:
        list_layout.decode(part)
    assert "\n" not in str(refused.value)


def test_an_old_data_dir_reads_as_it_is_without_being_written(old_store):
    before = {path.name: path.read_bytes() for path in old_store.data_dir.rglob("*") if path.is_file()}
    db = old_store.read()
    for table in ("agreements", "pending"):
        old = old_records(table)
        now = {str(doc["uid"]): dict(doc) for doc in getattr(db, table).all()}
        assert now == {doc["uid"]: as_now(doc) for doc in old.values()}
    assert db.events.count() == 89
    assert {path.name: path.read_bytes() for path in old_store.data_dir.rglob("*") if path.is_file()} == before


def test_the_first_write_moves_an_old_data_dir_whole_and_keeps_it_as_the_backup(old_store):
    old_generation = old_store.path.read_bytes()
    old_parts = {path.name for path in old_store.parts_dir.iterdir()}
    with old_store.write() as db:
        assert db.meta.get("nothing") is None           # a session that changes nothing still migrates
    generation = json.loads(old_store.path.read_bytes())
    assert generation["_format"] == FORMAT
    for table in ("agreements", "pending"):
        part = old_store.parts_dir / generation["_parts"][table]["file"]
        assert json.loads(part.read_bytes())["layout"] == list_layout.LAYOUT
        records = {doc["uid"]: dict(doc) for doc in getattr(old_store.read(), table).all()}
        assert records == {doc["uid"]: as_now(doc) for doc in old_records(table).values()}
    # The old state is the backup, whole: its generation and every part it names.
    assert old_store.backup_path.read_bytes() == old_generation
    assert old_parts <= {path.name for path in old_store.parts_dir.iterdir()}
    restored = old_store.data_dir.parent / "restored"
    shutil.copytree(old_store.data_dir, restored)
    shutil.copyfile(restored / "state.json.1", restored / "state.json")
    assert json.loads((restored / "state.json").read_bytes())["_format"] == 2
    assert len(Store(restored).read().agreements.all()) == len(old_records("agreements"))


def test_a_migration_that_fails_before_the_generation_is_replaced_leaves_the_old_state(old_store, monkeypatch):
    old_generation = old_store.path.read_bytes()

    def power_cut(path, payload, durable=True):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write_bytes", power_cut)
    with pytest.raises(OSError), old_store.write():
        pass
    monkeypatch.undo()
    assert old_store.path.read_bytes() == old_generation        # new parts written, never named
    assert len(old_store.read().agreements.all()) == len(old_records("agreements"))
    with old_store.write():
        pass
    assert json.loads(old_store.path.read_bytes())["_format"] == FORMAT


def test_an_old_record_that_cites_no_list_is_refused_in_one_line_and_nothing_is_written(old_store):
    generation = json.loads(old_store.path.read_bytes())
    records = old_records("agreements")
    del next(iter(records.values()))["row"]
    payload = json.dumps(records).encode()
    name = store_module._part_name("agreements", payload)
    (old_store.parts_dir / name).write_bytes(payload)
    generation["_parts"]["agreements"]["file"] = name
    old_store.path.write_text(json.dumps(generation))
    before = old_store.path.read_bytes()
    with pytest.raises(StoreError) as refused:
        with old_store.write():
            pass
    message = str(refused.value)
    assert message.startswith(f"cannot read {old_store.parts_dir / name}") and "does not cite" in message
    assert "\n" not in message
    assert old_store.path.read_bytes() == before and not old_store.backup_path.exists()


MIGRATOR = """
import sys
from watch287g.state.store import Store
print("started", flush=True)
with Store(sys.argv[1]).write():
    pass
print("done", flush=True)
"""


def test_kill_9_during_a_migration_leaves_the_old_state_or_the_new_one_whole(old_store):
    # Many more records than the fixture's, so the migrating write takes a while.
    generation = json.loads(old_store.path.read_bytes())
    template = old_records("agreements")
    many = {str(n): {**copy.deepcopy(doc), "uid": f"{doc['uid']}-{n}"}
            for n, doc in enumerate(list(template.values()) * 30, start=1)}
    payload = json.dumps(many).encode()
    name = store_module._part_name("agreements", payload)
    (old_store.parts_dir / name).write_bytes(payload)
    generation["_parts"]["agreements"].update(file=name, count=len(many))
    old_store.path.write_text(json.dumps(generation))
    expected = sorted(doc["uid"] for doc in many.values())
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    formats = set()
    for delay in (0.0, 0.1, 0.2, 0.4, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", MIGRATOR, str(old_store.data_dir)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "started\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        formats.add(json.loads(old_store.path.read_bytes())["_format"])
        assert sorted(doc["uid"] for doc in old_store.read().agreements.all()) == expected
        if formats == {FORMAT}:
            break
    with old_store.write():
        pass        # whatever the kills left, the next write finishes the move
    assert json.loads(old_store.path.read_bytes())["_format"] == FORMAT
    assert sorted(doc["uid"] for doc in old_store.read().agreements.all()) == expected
    assert 2 in formats         # at least one kill came before the generation was replaced


def manifest(folder, rows: list[dict]):
    path = folder / "manifest.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "file": str(REPLAY / row["file"])})
    return path


def events_without_ids(cli, data_dir) -> list[dict]:
    code, out, err = cli("--json", "events", "--limit", "1000", data=data_dir)
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    for event in events:
        del event["id"]
    return events


def test_lists_replayed_onto_a_migrated_dir_make_the_events_a_fresh_replay_makes(old_store, cli, tmp_path):
    with (REPLAY / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    (tmp_path / "later").mkdir()
    (tmp_path / "all").mkdir()
    # The fixture holds the first four lists; the other three go onto it.
    assert cli("-q", "replay", str(manifest(tmp_path / "later", rows[4:])), data=old_store.data_dir)[0] == 0
    assert cli("-q", "replay", str(manifest(tmp_path / "all", rows)), data=tmp_path / "fresh")[0] == 0
    continued, fresh = events_without_ids(cli, old_store.data_dir), events_without_ids(cli, tmp_path / "fresh")
    assert len(fresh) == 184 and continued == fresh
    assert [dict(doc) for doc in Store(old_store.data_dir).read().agreements.all()] == \
        [dict(doc) for doc in Store(tmp_path / "fresh").read().agreements.all()]


def test_a_newer_format_is_refused_in_one_line(old_store):
    generation = json.loads(old_store.path.read_bytes())
    old_store.path.write_text(json.dumps({**generation, "_format": FORMAT + 1}))
    with pytest.raises(StoreError, match="is not a watch287g state file"):
        old_store.read()


def test_upgrading_leaves_records_already_in_the_current_form_alone():
    docs = {"1": record(1)}
    assert list_layout.upgrade(copy.deepcopy(docs)) == docs
