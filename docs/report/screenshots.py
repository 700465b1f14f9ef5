"""Regenerate the screenshots in docs/report.md from a report built on the
replay of all 391 real lists of 2025.

    .venv/bin/python docs/report/screenshots.py [--data-dir DIR]

Replays ../shared/ice-snapshots/manifest.csv into a temporary data dir
(unless --data-dir names an existing replay), builds the report as of
31 December 2025, and writes beside this script, with headless Chromium:
  map.png      the national map of covered counties
  chart.png    agreements over time, by model
  state.png    the top of Texas's page (its figures and map)
Each is a PNG of a few hundred KB at most.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import browser, console_errors  # noqa: E402

MANIFEST = ROOT.parent / "shared" / "ice-snapshots" / "manifest.csv"
SHOTS = (  # file, page, CSS selector of the element, window width
    ("map.png", "index.html", "#national-map", 1100),
    ("chart.png", "index.html", "#over-time", 1000),
    ("state.png", "states/TX.html", "main", 1000),
)


def watch287g(data_dir: Path, *args: str) -> None:
    config = data_dir.parent / "empty.toml"
    config.write_text("")
    subprocess.run([sys.executable, "-m", "watch287g.cli", "--config", str(config), "--data-dir", str(data_dir),
                    "-q", *args], check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        data_dir = args.data_dir or scratch / "data"
        if not args.data_dir:
            data_dir.mkdir()
            watch287g(data_dir, "replay", str(MANIFEST))
        report = scratch / "report"
        watch287g(data_dir, "report", "--out", str(report), "--as-of", "2025-12-31")
        driver = browser(scratch)
        try:
            for name, page, selector, width in SHOTS:
                driver.set_window_size(width, 1500)
                driver.get((report / page).as_uri())
                time.sleep(0.3)
                if selector == "main":   # the page's head: title, figures, map
                    driver.save_screenshot(str(HERE / name))
                else:
                    element = driver.find_element("css selector", selector)
                    driver.execute_script("arguments[0].scrollIntoView()", element)
                    element.screenshot(str(HERE / name))
                errors = console_errors(driver)
                assert not errors, errors
                print(f"wrote {HERE / name}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
