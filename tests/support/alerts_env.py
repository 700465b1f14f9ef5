"""Shared pieces of the alert tests: real-looking events, a config file, the
state they are recorded in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from watch287g.alerts import digest, outbox
from watch287g.core import events as ev
from watch287g.core.config import Config, load_config
from watch287g.settings import Settings
from watch287g.state import journal
from watch287g.state.store import Store

OBSERVED = "2025-03-01T18:07:51Z"
NOW = dt.datetime(2025, 3, 1, 18, 10, tzinfo=dt.timezone.utc)
SOURCE = {"kind": "participating", "file_name": "participatingAgencies-20250301180751.xlsx",
          "sha256": "9e262e64fd7f5756e897e1bdf1f18e01c90a03abab8f5844f2f6c44997f3cfdd",
          "observed_at": OBSERVED}
EVIL_AGENCY = "<!channel> Evil <@U123> <http://evil.example|click> & co"
INJECTION_AGENCY = "Evil County\r\nBcc: victim@example.com"


def agreement_event(event_type: str = ev.SIGNED, *, agency: str = "POLK COUNTY SHERIFF'S OFFICE",
                    state: str = "FL", county: str | None = "Polk County", model: str = "Task Force Model",
                    signed: str = "2025-02-26", line: int = 412, moa_url: str | None = None,
                    **extra) -> dict:
    record = {
        "uid": f"{state}-{line}-{model[:4]}", "state": state, "agency": agency, "model": model,
        "signed": signed, "county": county, "agency_type": "County",
        "moa_url": moa_url if moa_url is not None else
        f"https://www.ice.gov/doclib/about/offices/ero/pdf/287gMOA/r_287g{state}{line}.pdf",
        "addendum_url": None,
    }
    row = {"line": line, "values": {"STATE": state, "LAW ENFORCEMENT AGENCY": agency, "SIGNED": signed}}
    return ev.record_event(event_type, record, OBSERVED, dict(SOURCE), row, **extra)


def burst(count: int, states: tuple[str, ...] = ("FL", "TX")) -> list[dict]:
    return [agreement_event(agency=f"AGENCY NUMBER {i} SHERIFF'S OFFICE", state=states[i % len(states)],
                            county=f"County {i}", line=10 + i) for i in range(count)]


def write_config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "watch287g.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def slack_config(api_base_url: str, extra: str = "", slack_extra: str = "") -> str:
    return f"""
[slack]
api_base_url = "{api_base_url}"
rate_limit_retries = 3
{slack_extra}

[outbox]
retry_base_seconds = 60
failing_after_attempts = 3
{extra}
"""


def record(store: Store, events: list[dict], config: Config | None = None, now: dt.datetime = NOW) -> list[dict]:
    """Record events as the ingest does (ids from the events table) and, with
    a config, queue their deliveries in the same session."""
    with store.write() as db:
        journal.record(db, events, None if config is None else queue_for(db, config, now))
    return events


def queue_for(db, config: Config, now: dt.datetime = NOW):
    """The journal's deliveries function for this config, as the app builds it."""
    settings = Settings(config)
    return outbox.deliveries(db, settings.alerts, settings.subscriptions, now)


def deliver(store: Store, config: Config, now: dt.datetime | None = None) -> dict:
    settings = Settings(config)
    return outbox.deliver_due(store, settings.alerts, settings.subscriptions, now)


def send_digest(store: Store, config: Config, cadence: str, now: dt.datetime | None = None) -> dict:
    settings = Settings(config)
    return digest.send_digests(store, settings.alerts, settings.subscriptions, cadence, now)


def outbox_docs(store: Store) -> list[dict]:
    return [dict(doc) for doc in store.read().outbox.all()]
