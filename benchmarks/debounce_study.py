"""How the termination debounce behaves on the real 2025 lists.

For each policy (lists without the row, days without it), replay all of
../shared/ice-snapshots and count: terminations reported, those contradicted
later (the same agreement — same agency key or earlier spelling, model and
signing date — listed again after the report), and the median delay from the
first list without the row to the report. docs/identity.md quotes the table.

    python benchmarks/debounce_study.py
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
import tempfile
from pathlib import Path

from watch287g.readers.workbook import snapshot_from_workbook
from watch287g.state.policy import Debounce, Policy
from watch287g.state.store import Store

from watch287g.replay import read_manifest, replay

MANIFEST = Path(__file__).resolve().parent.parent.parent / "shared" / "ice-snapshots" / "manifest.csv"
POLICIES = [(1, 0), (2, 1), (3, 3), (4, 5), (4, 7), (6, 10), (10, 14)]


def listings() -> dict[tuple, list[tuple[str, str | None]]]:
    found: dict[tuple, list[tuple[str, str | None]]] = {}
    with MANIFEST.open() as handle:
        for row in csv.DictReader(handle):
            if row["kind"] != "participating":
                continue
            snap = snapshot_from_workbook("ice", "participating", row["observed_at"], row["file"],
                                          (MANIFEST.parent / row["file"]).read_bytes())
            if snap.roster and snap.roster.shape == "participating":
                for r in snap.roster.rows:
                    found.setdefault((r.state, r.agency_key, r.model), []).append((row["observed_at"] + "Z", r.signed))
    return found


def study(snapshots: int, days: float, listed: dict) -> dict:
    policy = Policy(debounce=Debounce(min_missing_snapshots=snapshots, min_missing_days=days))
    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder)
        for _ in replay(store, read_manifest(MANIFEST), policy):
            pass
        state = store.read()
        records = {r["uid"]: r for r in state.agreements.all()}
        events = list(state.events.all())
    terminated = [e for e in events if e["type"] == "agreement.terminated"]
    contradicted, delays = 0, []
    for event in terminated:
        record = records[event["uid"]]
        keys = [(record["state"], k, record["model"]) for k in [record["agency_key"], *record["aliases"]]]
        if any(t > event["observed_at"] and signed == event["signed"] for k in keys for t, signed in listed.get(k, [])):
            contradicted += 1
        delays.append((dt.datetime.fromisoformat(event["observed_at"])
                       - dt.datetime.fromisoformat(event["missing_since"])).total_seconds() / 86400)
    return {"terminated": len(terminated), "contradicted": contradicted,
            "median_delay_days": statistics.median(delays) if delays else 0,
            "reinstated": sum(1 for e in events if e["type"] == "agreement.reinstated"),
            "withdrawn": sum(1 for e in events if e["type"] == "pending.withdrawn")}


def main() -> None:
    listed = listings()
    print("| lists without it | days without it | terminated | contradicted later | reinstated | "
          "median delay (days) | pending withdrawn |")
    print("|---|---|---|---|---|---|---|")
    for snapshots, days in POLICIES:
        r = study(snapshots, days, listed)
        print(f"| {snapshots} | {days} | {r['terminated']} | {r['contradicted']} | {r['reinstated']} | "
              f"{r['median_delay_days']:.1f} | {r['withdrawn']} |")


if __name__ == "__main__":
    main()
