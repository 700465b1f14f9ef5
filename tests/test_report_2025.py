"""The report of the full 2025 replay, opened in headless Chromium."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By

from tests.support.atom import assert_valid_atom
from tests.support.browser import chromium, console_errors  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(replay_2025, tmp_path_factory):
    from watch287g.cli import main

    out = tmp_path_factory.mktemp("report-2025") / "report"
    assert main(["--config", str(replay_2025 / "empty.toml"), "--data-dir", str(replay_2025), "-q", "report",
                 "--out", str(out), "--as-of", "2025-12-31"]) == 0
    return out


def test_the_year_end_map(chromium, site):
    figures = json.loads((site / "data" / "stats.json").read_text())
    assert figures["agreements"] > 1200 and figures["counties_covered"] > 600
    chromium.get((site / "index.html").as_uri())
    tagged = chromium.execute_script(
        "return Array.from(document.querySelectorAll('#national-map path[data-fips]'), p => p.dataset.fips)")
    assert len(tagged) == len(set(tagged)) == figures["counties_covered"]
    assert console_errors(chromium) == []
    listed = chromium.find_elements(By.CSS_SELECTOR, "details.apart[open] tbody tr")
    assert len(listed) == len(figures["unmatched_counties"])


def test_state_pages_and_every_feed(chromium, site):
    for page in [site / "states" / f"{state}.html" for state in ("FL", "TX", "AK", "GU", "VA")]:
        chromium.get(page.as_uri())
        assert console_errors(chromium) == [], page.name
    for feed in sorted((site / "feeds").rglob("*.atom")):
        assert_valid_atom(feed.read_bytes())
