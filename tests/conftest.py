"""Shared fixtures: paths to the real data, and running the CLI in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_snapshots() -> Path:
    folder = SHARED / "ice-snapshots"
    if not (folder / "manifest.csv").is_file():
        pytest.skip("../shared/ice-snapshots is not beside the checkout")
    return folder


@pytest.fixture(scope="session")
def replay_2025(tmp_path_factory) -> Path:
    """A data dir holding the replay of all 391 real lists of 2025 (made once
    per test session: it takes about 30 s)."""
    from watch287g.cli import main

    folder = SHARED / "ice-snapshots"
    if not (folder / "manifest.csv").is_file():
        pytest.skip("../shared/ice-snapshots is not beside the checkout")
    data_dir = tmp_path_factory.mktemp("replay-2025")
    config = data_dir / "empty.toml"
    config.write_text("")
    assert main(["--config", str(config), "--data-dir", str(data_dir), "-q", "replay",
                 str(folder / "manifest.csv")]) == 0
    return data_dir


@pytest.fixture
def cli(tmp_path, capsys, monkeypatch):
    """Run `watch287g ARGS...` in-process with an empty config and a fresh
    data dir; returns (exit code, stdout, stderr)."""
    from watch287g.cli import main

    config = tmp_path / "config.toml"
    config.write_text("")
    data_dir = tmp_path / "data"
    for name in ("WATCH287G_CONFIG", "WATCH287G_DATA_DIR", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, data: Path | None = None, config_file: Path | None = None):
        code = main(["--config", str(config_file or config), "--data-dir", str(data or data_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err

    run.data_dir = data_dir
    run.config = config
    return run


@pytest.fixture
def local_site():
    """The scripted web site on 127.0.0.1 (watch287g/testing/fake_site.py), for real crawls."""
    from watch287g.testing.fake_site import LocalServer

    server = LocalServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # Tests only ever talk to 127.0.0.1; a proxy from the environment must not interfere.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("TZ", "UTC")
