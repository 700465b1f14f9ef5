"""Small replays of real fixture workbooks for the stats, export, feed and
report tests: ICE's first lists (no COUNTY column yet), a July list with
COUNTY, then the pending list ICE served behind the participating link on
22 September 2025 (quarantined by the gate)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import FIXTURES

JULY_LIST = FIXTURES / "xlsx" / "20250711T0900_participatingAgencies07112025am.xlsx"
SWAP = FIXTURES / "xlsx" / "20250922T1600_participatingAgencies09222025pm.xlsx"


def write_manifest(folder: Path) -> Path:
    """A manifest of the fixture lists (absolute paths); returns its path."""
    lines = ["observed_at,kind,file"]
    with (FIXTURES / "replay" / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            lines.append(f"{row['observed_at']},{row['kind']},{FIXTURES / 'replay' / row['file']}")
    lines.append(f"2025-07-11T09:00:00,participating,{JULY_LIST}")
    lines.append(f"2025-09-22T16:00:00,participating,{SWAP}")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def replay_fixture_lists(folder: Path) -> Path:
    """Replay write_manifest's lists into folder/data; returns that data dir."""
    from watch287g.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "empty.toml"
    config.write_text("")
    assert main(["--config", str(config), "--data-dir", str(folder / "data"), "-q", "replay",
                 str(write_manifest(folder / "lists"))]) == 0
    return folder / "data"
