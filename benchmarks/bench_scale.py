"""Benchmark: does identity matching stay linear as lists grow? (issue 13, goal 2)

For each size, a synthetic participating list A and a list B made from it
with 1% of rows removed, 1% added and 1% re-spelled (a one-letter typo in the
place name). Names, states, models, counties and dates are drawn with a fixed
seed, states skewed as ICE's are (a few states hold most agreements), so the
(state, model) groups grow with the list as they would for real.

Two measures, each in a fresh child process so its peak RSS is its own:

* **diff**: A and B parsed into Rosters in memory (readers/roster.py on
  plain cells, no workbook), A taken as the baseline and the set-up's
  garbage collected, then the timed part: ``diff_agreements`` of B against
  A's records. Sizes 2k, 20k, 100k; the fastest of ``--runs``. Beside it the
  *exact-join floor*: the records in a dict by key and one lookup a row, the
  least any exact matching does. Its growth per row from 2k to 100k is the
  machine's (2,000 records fit in the CPU caches, 100,000 do not). The
  diff's own memory is how far RSS rises above where it started (Linux:
  the kernel's peak is reset first).
* **replay**: A and B written as .xlsx workbooks the way Excel writes ICE's
  (shared strings, date-styled SIGNED, a hyperlink on each MOA cell) and
  replayed by ``watch287g replay`` with the default config (reader, gate,
  diff, journal, archive, state written at the end). The CPU
  time is split by timing the reader, the ingest and the diff inside it; the
  rest is the state's writes and the command around them.

Goals: diff of the 100k pair <= 2 s, replay of the pair <= 10 s, peak RSS
<= 400 MiB, diff time per row at 100k within 1.5x of that at 2k.

    python benchmarks/bench_scale.py [--sizes 2000 20000 100000] [--runs 5] [--no-replay]
    python benchmarks/bench_scale.py --sizes 100000 --replay-against ../main --pairs 3
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import io
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA"]
MODELS = ("Jail Enforcement Model", "Task Force Model", "Warrant Service Officer")
STATES = ("TEXAS", "FLORIDA", "GEORGIA", "PENNSYLVANIA", "LOUISIANA", "TENNESSEE", "OKLAHOMA", "ALABAMA",
          "MISSOURI", "ARKANSAS", "SOUTH CAROLINA", "NORTH CAROLINA", "VIRGINIA", "INDIANA", "OHIO", "IDAHO",
          "ARIZONA", "KANSAS", "NEBRASKA", "MONTANA", "UTAH", "WYOMING", "IOWA", "MISSISSIPPI", "KENTUCKY",
          "WEST VIRGINIA", "NEW HAMPSHIRE", "SOUTH DAKOTA", "NORTH DAKOTA", "NEVADA", "MICHIGAN", "WISCONSIN",
          "MINNESOTA", "NEW YORK", "ALASKA", "MAINE", "MASSACHUSETTS", "NEW JERSEY", "COLORADO", "OREGON")
STATE_WEIGHTS = [1 / (rank + 1) ** 0.9 for rank in range(len(STATES))]  # Texas and Florida lead, as in 2025
AGENCY_FORMS = [("{place} County Sheriff's Office", "County", 40), ("{place} Police Department", "Municipality", 34),
                ("{place} Township Constable", "Municipality", 6), ("{place} Borough Police Department",
                                                                     "Municipality", 5),
                ("{county} County Constable Precinct {n}", "County", 5), ("{place} Marshal's Office",
                                                                          "Municipality", 3),
                ("{place} County Department of Corrections", "County", 4), ("City of {place} Police Department",
                                                                            "Municipality", 3)]
SYLLABLES = ("al", "bar", "ber", "bro", "can", "car", "chel", "dal", "den", "dor", "el", "fair", "fen", "gal",
             "glen", "ham", "har", "hol", "ken", "kin", "lan", "lee", "lin", "mar", "mil", "mon", "nor", "oak",
             "pal", "pen", "port", "ran", "rich", "ros", "san", "sel", "sher", "ston", "tal", "ton", "val", "ver",
             "wal", "wes", "wick", "win", "wood", "york")
FIRST_DAY = dt.date(2024, 1, 2)


def place(rng: random.Random) -> str:
    words = [("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3))))).capitalize()
             for _ in range(rng.choice((1, 1, 1, 2)))]
    return " ".join(words)


def new_agreement(rng: random.Random, counties: dict[str, list[str]]) -> dict:
    state = rng.choices(STATES, STATE_WEIGHTS)[0]
    county = rng.choice(counties[state])
    form, agency_type, _weight = rng.choices(AGENCY_FORMS, [w for _, _, w in AGENCY_FORMS])[0]
    name = form.format(place=place(rng) if "Sheriff" not in form else county, county=county, n=rng.randint(1, 8))
    model = rng.choice(MODELS)
    signed = FIRST_DAY + dt.timedelta(days=rng.randrange(0, 720, 3))  # ICE signs in batches
    moa = None if rng.random() < 0.1 else \
        f"https://www.ice.gov/doclib/287gMOA/{name.replace(' ', '')}_{model[:4]}_MOA_{signed:%m%d%Y}.pdf"
    return {"STATE": state, "LAW ENFORCEMENT AGENCY": name, "TYPE": agency_type, "COUNTY": f"{county} County",
            "SUPPORT TYPE": model, "SIGNED": signed, "MOA": moa}


def typo(name: str, rng: random.Random) -> str:
    """One letter of the place name changed, dropped or doubled."""
    end = max(name.find(" "), 3)
    i = rng.randrange(1, end)
    change = rng.choice(("swap", "drop", "double"))
    letter = rng.choice("aeiourstln")
    return name[:i] + {"swap": letter, "drop": "", "double": name[i] + name[i]}[change] + name[i + 1:]


def list_pair(size: int, seed: int = 287) -> tuple[list[dict], list[dict]]:
    """List A of ``size`` agreements and B: 1% removed, 1% added, 1% re-spelled."""
    from watch287g.core.normalize import agency_key

    rng = random.Random(seed)
    counties = {state: [place(rng) for _ in range(60)] for state in STATES}
    seen: set[tuple] = set()

    def unique() -> dict:
        while True:
            row = new_agreement(rng, counties)
            key = (row["STATE"], agency_key(row["LAW ENFORCEMENT AGENCY"]), row["SUPPORT TYPE"])
            if key not in seen:
                seen.add(key)
                return row

    a = [unique() for _ in range(size)]
    one_percent = size // 100
    chosen = rng.sample(range(size), 2 * one_percent)
    removed, respelled = set(chosen[:one_percent]), chosen[one_percent:]
    b = [dict(row) for row in a]
    for i in respelled:
        b[i]["LAW ENFORCEMENT AGENCY"] = typo(b[i]["LAW ENFORCEMENT AGENCY"], rng)
    b = [row for i, row in enumerate(b) if i not in removed]
    for _ in range(one_percent):
        b.insert(rng.randrange(len(b) + 1), unique())
    return a, b


def roster(rows: list[dict]):
    from watch287g.core.records import Cell
    from watch287g.readers.roster import parse_roster

    cells = [[Cell(name) for name in HEADER]]
    for row in rows:
        cells.append([Cell(dt.datetime.combine(row[name], dt.time()) if name == "SIGNED" else
                                 "link" if name == "MOA" and row[name] else row[name],
                                 row[name] if name == "MOA" else None) for name in HEADER])
    return parse_roster(cells, today=dt.date(2026, 11, 28))


def workbook(rows: list[dict]) -> bytes:
    """The list as Excel writes ICE's files: text in shared strings, SIGNED a
    date serial with a date style, each MOA cell hyperlinked to its address."""
    from html import escape

    from watch287g.testing.xlsx_parts import build_xlsx, relationships, shared_strings, styles, worksheet

    strings: dict[str, int] = {}

    def text(column: str, line: int, value: str) -> str:
        return f'<c r="{column}{line}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'

    columns = "ABCDEFG"
    lines = ['<row r="1">' + "".join(text(c, 1, name) for c, name in zip(columns, HEADER)) + "</row>"]
    links, targets = [], []
    for line, row in enumerate(rows, start=2):
        cells = []
        for column, name in zip(columns, HEADER):
            value = row[name]
            if name == "SIGNED":
                cells.append(f'<c r="{column}{line}" s="1"><v>{(value - dt.date(1899, 12, 30)).days}</v></c>')
            elif name == "MOA" and value:
                cells.append(text(column, line, "link"))
                targets.append(("rId%d" % (len(targets) + 1), "hyperlink", escape(value), True))
                links.append(f'<hyperlink ref="{column}{line}" r:id="{targets[-1][0]}"/>')
            elif value:
                cells.append(text(column, line, value))
        lines.append(f'<row r="{line}">' + "".join(cells) + "</row>")
    return build_xlsx(worksheet("".join(lines), f"<hyperlinks>{''.join(links)}</hyperlinks>"),
                      strings=shared_strings(*(f"<t>{escape(value)}</t>" for value in strings)),
                      style=styles([0, 14]), sheet_rels=relationships(*targets))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Make the kernel's peak RSS (VmHWM) start again from the current RSS,
    so the diff's peak is not the set-up's. Linux only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def kernel_rss_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) from /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {field} in /proc/self/status")


def exact_join_floor(records: list[dict], rows: list) -> float:
    """CPU seconds of the least any exact matching must do: index the
    records by key and look each row up. Its growth per row from 2k to 100k
    is the machine's (caches), not the differ's."""
    started = time.process_time()
    index = {f"{r['state']}|{r['agency_key']}|{r['model']}": r for r in records}
    found = [index.get(f"{row.state}|{row.agency_key}|{row.model}") for row in rows]
    seconds = time.process_time() - started
    assert len(found) == len(rows)
    return seconds


def child_diff(size: int) -> dict:
    from watch287g.state.differ import ListSnapshot, diff_agreements
    from watch287g.state.policy import Policy

    a, b = list_pair(size)
    snap_a = ListSnapshot("ice", "2026-11-01T09:00:00Z", {"kind": "participating", "sha256": "a" * 64})
    snap_b = ListSnapshot("ice", "2026-11-02T09:00:00Z", {"kind": "participating", "sha256": "b" * 64})
    records = diff_agreements([], [], roster(a), snap_a, Policy(), baseline=True).new_records
    roster_b = roster(b)
    del a, b  # as in a replay, only the records and the new list are alive during the diff
    floor = exact_join_floor(records, roster_b.rows)
    gc.collect()  # the set-up's garbage is not the diff's to pay for
    measured = reset_peak_rss()
    before = kernel_rss_mib("VmRSS") if measured else 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = diff_agreements(records, [], roster_b, snap_b, Policy(), baseline=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rows": size, "diff_s": wall, "diff_cpu_s": cpu, "floor_cpu_s": floor,
            "rss_before_diff_mib": before, "diff_added_rss_mib": kernel_rss_mib("VmHWM") - before if measured else None,
            "peak_rss_mib": peak_rss_mib(),
            "events": {kind: sum(1 for e in outcome.events if e["type"] == kind)
                       for kind in sorted({e["type"] for e in outcome.events})}}


class PhaseClock:
    """CPU seconds spent inside chosen functions, to split the replay's time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, module, name: str, phase: str) -> None:
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.process_time() - started

        setattr(module, name, timed)


def child_replay(manifest: Path, data_dir: Path) -> dict:
    """``watch287g replay`` of the pair with the default config, as a user runs it."""
    from watch287g import commit, replay
    from watch287g.cli import main
    from watch287g.state import ingest

    clock = PhaseClock()
    clock.wrap(replay, "snapshot_from_workbook", "read")
    clock.wrap(commit, "ingest", "ingest")
    clock.wrap(ingest, "diff_agreements", "diff")
    config = data_dir.parent / "defaults.toml"
    config.write_text("")
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["--config", str(config), "--data-dir", str(data_dir), "-q", "--json", "replay", str(manifest)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if code != 0:
        sys.exit(f"bench_scale: watch287g replay exited {code}")
    state_files = [data_dir / "state.json", *(data_dir / "parts").glob("*.json")]
    return {"replay_s": wall, "replay_cpu_s": cpu, "peak_rss_mib": peak_rss_mib(),
            "read_cpu_s": clock.seconds["read"], "diff_cpu_s": clock.seconds["diff"],
            "rest_of_ingest_cpu_s": clock.seconds["ingest"] - clock.seconds["diff"],
            "store_write_and_rest_cpu_s": cpu - clock.seconds["read"] - clock.seconds["ingest"],
            "state_mib": sum(f.stat().st_size for f in state_files) / 2 ** 20}


def in_child(*args: str, checkout: Path = ROOT) -> dict:
    """Run this benchmark's child measure in a fresh process, with the code
    and venv of ``checkout`` (this one, or another to compare with)."""
    python = sys.executable if checkout == ROOT else str(checkout / ".venv" / "bin" / "python")
    out = subprocess.run([python, str(checkout / "benchmarks" / "bench_scale.py"), *args], check=True,
                         capture_output=True, text=True, cwd=checkout)
    return json.loads(out.stdout)


def write_pair(size: int, folder: Path) -> Path:
    """The pair as workbooks and a replay manifest in ``folder``; returns the manifest."""
    a, b = list_pair(size)
    (folder / "a.xlsx").write_bytes(workbook(a))
    (folder / "b.xlsx").write_bytes(workbook(b))
    manifest = folder / "manifest.csv"
    manifest.write_text("observed_at,kind,file\n2026-11-01T09:00:00Z,participating,a.xlsx\n"
                        "2026-11-02T09:00:00Z,participating,b.xlsx\n")
    return manifest


def replay_once(manifest: Path, checkout: Path = ROOT) -> dict:
    data = Path(tempfile.mkdtemp(prefix="data-", dir=manifest.parent))
    try:
        return in_child("--child-replay", str(manifest), str(data), checkout=checkout)
    finally:
        shutil.rmtree(data)


def replay_pair(size: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return {"rows": size, **replay_once(write_pair(size, Path(folder)))}


REPLAY_COLUMNS = ("replay_cpu_s", "read_cpu_s", "diff_cpu_s", "rest_of_ingest_cpu_s", "store_write_and_rest_cpu_s",
                  "peak_rss_mib", "state_mib")


def replay_against(size: int, other: Path, pairs: int) -> None:
    """The replay of one prebuilt pair by this checkout and by ``other``,
    alternating which goes first; each run printed, then the medians."""
    runs: dict[str, list[dict]] = {"this": [], "other": []}
    with tempfile.TemporaryDirectory() as folder:
        manifest = write_pair(size, Path(folder))
        for n in range(pairs):
            for name in ("this", "other") if n % 2 == 0 else ("other", "this"):
                run = replay_once(manifest, ROOT if name == "this" else other)
                runs[name].append(run)
                print(f"{name:5} load {os.getloadavg()[0]:.1f} " + " ".join(f"{c} {run[c]:.2f}" for c in REPLAY_COLUMNS),
                      flush=True)
    print(f"\nmedians of {pairs} pairs, {size:,} rows (this: {ROOT}, other: {other})")
    print("| checkout | " + " | ".join(REPLAY_COLUMNS) + " |")
    print("|---|" + "---|" * len(REPLAY_COLUMNS))
    for name, measured in runs.items():
        print(f"| {name} | " + " | ".join(f"{statistics.median(r[c] for r in measured):.2f}"
                                          for c in REPLAY_COLUMNS) + " |")


def best_of(runs: list[dict]) -> dict:
    """Each time the fastest of the runs (other work on the machine only ever
    adds time); memory and events from the first."""
    return {**runs[0], **{name: min(r[name] for r in runs) for name in ("diff_s", "diff_cpu_s", "floor_cpu_s")},
            "runs": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--runs", type=int, default=5, help="diff runs per size; the fastest is reported")
    parser.add_argument("--no-replay", action="store_true")
    parser.add_argument("--replay-against", type=Path, metavar="CHECKOUT",
                        help="only the replay, of the largest size: this checkout and another (with its own .venv) "
                             "in alternation on the same pair")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each checkout for --replay-against")
    parser.add_argument("--child-diff", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-replay", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_diff:
        print(json.dumps(child_diff(args.child_diff)))
        return
    if args.child_replay:
        print(json.dumps(child_replay(*args.child_replay)))
        return
    if args.replay_against:
        replay_against(max(args.sizes), args.replay_against.resolve(), args.pairs)
        return
    diffs = [best_of([in_child("--child-diff", str(size)) for _ in range(args.runs)]) for size in args.sizes]
    replays = [] if args.no_replay else [replay_pair(size) for size in args.sizes]
    report = {"machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
                         f"{os.cpu_count()} cores", "load_average": os.getloadavg(),
              "diff": diffs, "replay": replays}
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "scale.json").write_text(json.dumps(report, indent=2))
    base = diffs[0]["diff_cpu_s"] / diffs[0]["rows"]
    floor_base = diffs[0]["floor_cpu_s"] / diffs[0]["rows"]
    print("| rows | diff wall (s) | diff CPU (s) | CPU per row (µs) | vs smallest | exact-join floor per row (µs) "
          "| floor vs smallest | RSS before the diff (MiB) | added by the diff (MiB) | events |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in diffs:
        per_row, floor = r["diff_cpu_s"] / r["rows"], r["floor_cpu_s"] / r["rows"]
        events = ", ".join(f"{n} {kind.split('.')[1]}" for kind, n in r["events"].items())
        print(f"| {r['rows']:,} | {r['diff_s']:.3f} | {r['diff_cpu_s']:.3f} | {per_row * 1e6:.1f} | "
              f"{per_row / base:.2f}x | {floor * 1e6:.2f} | {floor / floor_base:.2f}x | {r['rss_before_diff_mib']:.0f} | "
              f"{r['diff_added_rss_mib']:.0f} | {events} |")
    if replays:
        print()
        print("| rows | replay wall (s) | replay CPU (s) | of which reading | diffs | rest of ingest | "
              "state writes and rest | peak RSS (MiB) | state on disk (MiB) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in replays:
            print(f"| {r['rows']:,} | {r['replay_s']:.2f} | {r['replay_cpu_s']:.2f} | {r['read_cpu_s']:.2f} | "
                  f"{r['diff_cpu_s']:.2f} | {r['rest_of_ingest_cpu_s']:.2f} | {r['store_write_and_rest_cpu_s']:.2f} | "
                  f"{r['peak_rss_mib']:.0f} | {r['state_mib']:.1f} |")
    print(f"\nload average {report['load_average'][0]:.1f}; raw numbers in benchmarks/out/scale.json")


if __name__ == "__main__":
    main()
