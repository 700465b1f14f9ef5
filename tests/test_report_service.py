"""`watch287g run` rewrites the report after each check when [report] out_dir is set."""

from __future__ import annotations

import json

import pytest

from tests.support.atom import assert_valid_atom
from tests.support.service import (  # noqa: F401 (server is a fixture)
    PARTICIPATING_0306,
    PARTICIPATING_0307,
    checks,
    server,
    serve_ice,
)
from watch287g.testing.service import Service, wait_for, write_config
from watch287g.core.records import sha256_hex

# Every test here runs `watch287g run` in a child process.
pytestmark = pytest.mark.e2e


def report_sha(out) -> str | None:
    try:
        return json.loads((out / "data" / "stats.json").read_text())["list_sha256"]
    except (OSError, ValueError):
        return None


def test_the_service_rewrites_the_report_after_each_check(tmp_path, server):
    serve_ice(server, PARTICIPATING_0306)
    out = tmp_path / "public" / "287g"
    config = write_config(tmp_path / "config.toml", server, "interval_seconds = 2\ndaily_digest = false\n"
                          "weekly_digest = false", f'[report]\nout_dir = "{out}"\nbase_url = "https://example.org/287g"')
    service = Service(config, tmp_path / "data")
    try:
        wait_for(lambda: report_sha(out) == sha256_hex(PARTICIPATING_0306.read_bytes()), 60,
                 "the first report", service)
        serve_ice(server, PARTICIPATING_0307)
        wait_for(lambda: report_sha(out) == sha256_hex(PARTICIPATING_0307.read_bytes()), 60,
                 "the report of the new list", service)
    finally:
        assert service.stop() == 0
    assert (out / "index.html").is_file() and (out / "states" / "FL.html").is_file()
    assert_valid_atom((out / "feeds" / "all.atom").read_bytes())


def test_a_report_that_cannot_be_written_does_not_stop_the_checks(tmp_path, server):
    serve_ice(server, PARTICIPATING_0306)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("someone else's folder")
    config = write_config(tmp_path / "config.toml", server, "interval_seconds = 2\ndaily_digest = false\n"
                          "weekly_digest = false", f'[report]\nout_dir = "{taken}"')
    service = Service(config, tmp_path / "data")
    try:
        wait_for(lambda: len(checks(tmp_path / "data")) >= 2, 60, "two checks", service)
    finally:
        assert service.stop() == 0
    assert "report: the report was not written: " in service.log()
    assert "is not a watch287g report folder" in service.log()
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
