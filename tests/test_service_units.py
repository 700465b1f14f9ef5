"""Unit tests of the service's parts: schedules, staleness, heartbeat."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
from filelock import Timeout
from watch287g.core import events as ev
from watch287g.core.config import Config, ConfigError
from watch287g.core.records import Source
from watch287g.state.store import Store

from watch287g import health_watch
from watch287g.settings import Settings
from watch287g.state import health
from watch287g.heartbeat import (
    read_heartbeat,
    running_service_pid,
    service_lock,
    service_running,
    write_heartbeat,
)
from watch287g.schedule import DEFAULT_STALE_AFTER_DAYS, ServiceSettings, cron_trigger

NY = ZoneInfo("America/New_York")


def settings(service: dict | None = None, sources=("ice",)) -> ServiceSettings:
    entries = [source(name) for name in sources]
    return ServiceSettings.from_config(Config({"service": service or {}}, None), entries)


def source(name: str, enabled: bool = True) -> Source:
    return Source(name=name, type="ice", url="http://127.0.0.1:9/", enabled=enabled)


def fire_times(trigger, start: dt.datetime, count: int) -> list[dt.datetime]:
    times, previous, now = [], None, start
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        times.append(previous)
        now = previous + dt.timedelta(microseconds=1)
    return times


# --- schedules -------------------------------------------------------------------


def test_default_ice_schedule_is_quarter_hourly_in_business_hours_and_hourly_otherwise():
    s = settings({"jitter_seconds": 0})
    trigger = s.check_trigger(s.source("ice"))
    friday_afternoon = dt.datetime(2025, 6, 6, 17, 10, tzinfo=NY)
    assert [t.strftime("%a %H:%M") for t in fire_times(trigger, friday_afternoon, 5)] == \
        ["Fri 17:15", "Fri 17:30", "Fri 17:45", "Fri 18:00", "Fri 19:00"]
    monday_dawn = dt.datetime(2025, 6, 9, 6, 30, tzinfo=NY)
    assert [t.strftime("%a %H:%M") for t in fire_times(trigger, monday_dawn, 4)] == \
        ["Mon 07:00", "Mon 08:00", "Mon 08:15", "Mon 08:30"]
    saturday = dt.datetime(2025, 6, 7, 10, 5, tzinfo=NY)
    assert [t.strftime("%H:%M") for t in fire_times(trigger, saturday, 3)] == ["11:00", "12:00", "13:00"]


def test_business_hours_follow_new_york_time_across_daylight_saving():
    s = settings({"jitter_seconds": 0})
    trigger = s.check_trigger(s.source("ice"))
    # 8:00 in New York is 13:00 UTC in winter and 12:00 UTC in summer.
    winter = fire_times(trigger, dt.datetime(2025, 1, 6, 7, 50, tzinfo=NY), 2)
    summer = fire_times(trigger, dt.datetime(2025, 7, 7, 7, 50, tzinfo=NY), 2)
    assert [t.astimezone(dt.timezone.utc).strftime("%H:%M") for t in winter] == ["13:00", "13:15"]
    assert [t.astimezone(dt.timezone.utc).strftime("%H:%M") for t in summer] == ["12:00", "12:15"]


def test_jitter_moves_runs_later_by_at_most_the_configured_seconds():
    s = settings({"jitter_seconds": 30})
    trigger = s.check_trigger(s.source("ice"))
    runs = fire_times(trigger, dt.datetime(2025, 6, 9, 9, 1, tzinfo=NY), 30)     # Monday 9:15 to 16:30
    quarters = [run.replace(minute=run.minute - run.minute % 15, second=0, microsecond=0) for run in runs]
    # Each run still belongs to its quarter hour, and none is skipped...
    assert [b - a for a, b in zip(quarters, quarters[1:])] == [dt.timedelta(minutes=15)] * 29
    offsets = [(run - quarter).total_seconds() for run, quarter in zip(runs, quarters)]
    # ...moved later by at most 30 s...
    assert all(0 <= offset <= 30 for offset in offsets)
    # ...and really moved, by varying amounts (30 draws of 0-30 s all within one 5-s span: p < 1e-20).
    assert max(offsets) - min(offsets) > 5


def test_per_source_schedule_and_six_field_cron_with_seconds():
    s = settings({"sources": {"fast": {"schedule": ["*/5 * * * * *"], "check_timeout_seconds": 7}},
                  "jitter_seconds": 0}, sources=("ice", "fast"))
    fast = s.source("fast")
    assert fast.check_timeout_seconds == 7 and s.source("ice").check_timeout_seconds == 900
    start = dt.datetime(2025, 6, 9, 9, 0, 1, tzinfo=NY)
    assert [t.second for t in fire_times(s.check_trigger(fast), start, 3)] == [5, 10, 15]


def test_interval_override_replaces_the_cron_schedules():
    s = settings({"interval_seconds": 2, "jitter_seconds": 0})
    start = dt.datetime(2025, 6, 7, 3, 0, tzinfo=NY)
    times = fire_times(s.check_trigger(s.source("ice")), start, 3)
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:])] == [2, 2]


def test_digest_times_and_switching_a_digest_off():
    s = settings({"daily_digest": "30 7 * * *", "weekly_digest": False})
    assert s.digest_trigger("weekly") is None
    first = s.digest_trigger("daily").get_next_fire_time(None, dt.datetime(2025, 6, 9, 8, 0, tzinfo=NY))
    assert first.strftime("%d %H:%M") == "10 07:30"


@pytest.mark.parametrize("service, message", [
    ({"schedule": ["*/15 8-17 * * 1-5"]}, "[service].schedule: '*/15 8-17 * * 1-5': write weekdays as names"),
    ({"schedule": ["every 15 minutes"]}, "[service].schedule: 'every 15 minutes' is not a cron expression"),
    ({"schedule": ["61 * * * *"]}, "[service].schedule: '61 * * * *' is not a valid cron expression"),
    ({"schedule": []}, "[service].schedule must name at least one cron expression"),
    ({"timezone": "Eastern"}, "[service].timezone: unknown time zone 'Eastern'"),
    ({"jitter_seconds": -1}, "[service].jitter_seconds must be at least 0"),
    ({"check_timeout_seconds": "10"}, "[service].check_timeout_seconds must be a number"),
    ({"daily_digest": True}, "[service].daily_digest must be a cron expression or false"),
    ({"weekly_digest": "0 8 * * 1"}, "[service].weekly_digest: '0 8 * * 1': write weekdays as names"),
    ({"sources": {"nope": {}}}, "[service].sources.nope: no [[sources]] entry is named 'nope'"),
    ({"sources": {"ice": {"every": 5}}}, "[service].sources.ice: unknown key 'every'"),
    ({"stale_after_days": {"participating": "ten"}}, "[service].stale_after_days.participating must be a number"),
    ({"intervall_seconds": 5}, "[service]: unknown key 'intervall_seconds'"),
])
def test_schedule_errors_name_the_key(service, message):
    with pytest.raises(ConfigError) as err:
        settings(service)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_cron_trigger_accepts_weekday_names():
    trigger = cron_trigger("0 9 * * mon,wed", NY, "x")
    monday = trigger.get_next_fire_time(None, dt.datetime(2025, 6, 8, 12, 0, tzinfo=NY))
    assert monday.strftime("%a %H:%M") == "Mon 09:00"


# --- staleness ---------------------------------------------------------------------


def _snapshot(db, kind: str, observed_at: str, verdict: str = "accepted", source: str = "ice") -> None:
    db.snapshots.add({"source": source, "kind": kind, "observed_at": observed_at,
                                  "verdict": verdict, "sha256": "0" * 64, "file_name": f"{kind}.xlsx", "rows": 9})


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


THRESHOLDS = {"ice": dict(DEFAULT_STALE_AFTER_DAYS)}


def test_stale_lists_measure_from_the_last_accepted_snapshot(tmp_path):
    store = Store(tmp_path)
    with store.write() as db:
        _snapshot(db, "participating", "2025-06-01T12:00:00Z", "baseline")
        _snapshot(db, "participating", "2025-06-02T12:00:00Z")
        _snapshot(db, "participating", "2025-06-20T12:00:00Z", "quarantined")  # a bad list is no news
        _snapshot(db, "pending", "2025-06-01T12:00:00Z")
    db = store.read()
    assert health.stale_lists(db, THRESHOLDS, _at("2025-06-12T11:00:00")) == {}
    stale = health.stale_lists(db, THRESHOLDS, _at("2025-06-12T13:00:00"))
    assert list(stale) == ["ice:participating"]
    assert stale["ice:participating"]["last_accepted"] == "2025-06-02T12:00:00Z"
    assert stale["ice:participating"]["days"] == 10.0
    # A kind or source without a threshold is never stale.
    assert health.stale_lists(db, {"ice": {"pending": 30}}, _at("2025-06-25T00:00:00")) == {}
    assert health.stale_lists(db, {}, _at("2026-01-01T00:00:00")) == {}


def test_staleness_alerts_once_survives_a_restart_and_alerts_recovery_once(tmp_path):
    store = Store(tmp_path)
    config = Settings(Config({"operator": {"email": "ops@example.org"}}, None))
    with store.write() as db:
        _snapshot(db, "participating", "2025-06-01T00:00:00Z", "baseline")

    day = lambda n: _at("2025-06-01T00:00:00") + dt.timedelta(days=n)  # noqa: E731
    assert health_watch.watch_staleness(store, config, THRESHOLDS, day(9)) == []
    first = health_watch.watch_staleness(store, config, THRESHOLDS, day(11))
    assert [e["type"] for e in first] == [ev.SOURCE_STALE]
    assert "ice's participating list unchanged for 11 days" in first[0]["message"]
    # Later ticks, and a new process reading the same store, stay quiet.
    assert health_watch.watch_staleness(store, config, THRESHOLDS, day(12)) == []
    assert health_watch.watch_staleness(Store(tmp_path), config, THRESHOLDS, day(30)) == []

    with store.write() as db:
        _snapshot(db, "participating", "2025-07-01T00:00:00Z")
    recovered = health_watch.watch_staleness(store, config, THRESHOLDS, day(30))
    assert [e["type"] for e in recovered] == [ev.SOURCE_RECOVERED]
    assert recovered[0]["condition"] == "stale"
    assert health_watch.watch_staleness(store, config, THRESHOLDS, day(31)) == []

    db = store.read()
    stored = db.events.in_order()
    assert [e["type"] for e in stored] == [ev.SOURCE_STALE, ev.SOURCE_RECOVERED]
    # Both went to the operator's outbox in the same write as the event.
    queued_ids = sorted({entry_id for entry in db.outbox.all()
                         for entry_id in entry.get("event_ids", [entry.get("event_id")])})
    assert queued_ids == [e["id"] for e in stored]
    assert health.stale_flags(db) == {}


# --- heartbeat and the service lock -------------------------------------------------


def test_heartbeat_round_trip_and_atomic_replace(tmp_path):
    assert read_heartbeat(tmp_path) is None
    before = time.time()
    write_heartbeat(tmp_path, {"pid": 12, "last_tick": "2025-06-01T00:00:00Z"})
    after = time.time()
    first = read_heartbeat(tmp_path)
    # touched_at is the file's mtime, from the kernel's coarser clock: a second either side.
    assert first["pid"] == 12 and before - 1 <= first["touched_at"] <= after + 1
    write_heartbeat(tmp_path, {"pid": 13})
    assert read_heartbeat(tmp_path)["pid"] == 13
    assert [p.name for p in tmp_path.iterdir()] == ["heartbeat"]   # no temporary file left behind
    (tmp_path / "heartbeat").write_text("{not json")
    assert read_heartbeat(tmp_path) is None


def test_service_pid_needs_the_lock_held_not_just_a_heartbeat(tmp_path):
    write_heartbeat(tmp_path, {"pid": os.getpid()})
    assert not service_running(tmp_path)
    assert running_service_pid(tmp_path) is None      # a heartbeat left by a dead service
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from watch287g.heartbeat import service_lock; "
        f"lock = service_lock({str(tmp_path)!r}); lock.acquire(); print('held', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        write_heartbeat(tmp_path, {"pid": holder.pid})
        assert service_running(tmp_path)
        assert running_service_pid(tmp_path) == holder.pid
        lock = service_lock(tmp_path)
        with pytest.raises(Timeout):           # held by the other process, not any error
            lock.acquire(timeout=0)
    finally:
        holder.kill()
        holder.wait()
    assert running_service_pid(tmp_path) is None


# --- the status section -----------------------------------------------------------


def test_status_section_of_a_stopped_service_with_a_failing_and_a_stale_source(tmp_path):
    from watch287g.service_status import render_status_section, status_section

    store = Store(tmp_path)
    assert status_section(store)["service"]["state"] == "never started"
    with store.write() as db:
        _snapshot(db, "participating", "2025-06-01T00:00:00Z", "baseline")
        db.meta.set(health.STALE_META, {"ice:participating": {"since": "2025-06-01T00:00:00Z",
                                                                     "alerted_at": "2025-06-12T00:00:00Z"}})
        for minute in (0, 15):
            health.record_check(db, {"source": "ice", "started_at": f"2025-06-12T10:{minute:02}:00Z",
                                     "finished_at": f"2025-06-12T10:{minute:02}:05Z", "ok": False,
                                     "message": "page: HTTP 500"}, 3)
    write_heartbeat(tmp_path, {"pid": 999999, "state": "running", "started_at": "2025-06-01T00:00:00Z"})
    section = status_section(store)
    assert section["service"]["running"] is False
    assert section["service"]["state"] == "died without stopping cleanly"
    [ice] = section["sources"]
    assert ice["last_check"]["started_at"] == "2025-06-12T10:15:00Z" and not ice["last_check"]["ok"]
    assert ice["failure_streak"]["failures"] == 2 and ice["stale"]["participating"]["since"].startswith("2025-06-01")
    text = render_status_section(section)
    assert "service: not running (died without stopping cleanly" in text
    assert "source ice: last check 2025-06-12T10:15:05Z FAILED: page: HTTP 500" in text
    assert "failing: 2 checks in a row since 2025-06-12T10:00:00Z" in text
    assert "STALE: participating list unchanged since 2025-06-01T00:00:00Z" in text


def test_disabled_sources_are_not_scheduled_but_may_have_overrides():
    config = Config({"service": {"sources": {"old": {"schedule": "0 9 * * mon"}}}}, None)
    s = ServiceSettings.from_config(config, [source("ice"), source("old", enabled=False)])
    assert s.source_names() == ["ice"]
    bad = Config({"service": {"sources": {"old": {"schedule": "0 9 * * 1"}}}}, None)
    with pytest.raises(ConfigError, match=r"\[service\].sources.old.schedule: '0 9 \* \* 1': write weekdays"):
        ServiceSettings.from_config(bad, [source("ice"), source("old", enabled=False)])
