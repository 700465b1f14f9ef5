"""``watch287g run``: the long-running service.

An APScheduler 3 ``BlockingScheduler`` with three executors, each one job at
a time:

* ``checks`` (one thread): every source's check, and "check now" requests,
  each as a child process forked from the check server that the service
  starts with itself (watch287g.check_runner, watch287g.check_server), with
  a time limit. One
  worker means two checks never overlap inside the service; the check lock
  that ``watch287g check`` takes keeps a hand-run check beside it from
  overlapping too (the later one exits 3, which the service logs as busy).
* ``alerts`` (one thread): due deliveries every minute (and right after each
  check), daily and weekly digests.
* ``default``: the heartbeat.

Jobs are built from the config at every start and live in memory only: the
state they act on (events, outbox, check history, health flags) is in the
store, so a persistent job store would only add a second copy of the
schedule that could disagree with the config after an edit.

SIGTERM/SIGINT stop the scheduler, give a running check
``shutdown_grace_seconds`` to finish, then kill its process group; the exit
code is 0. SIGUSR1 queues one check of every source on the checks worker.

When the config asks for them the service also serves the web app ([web])
and hosts the Slack app ([slack_app]) from start to shutdown
(watch287g/frontends.py); ``/287g check`` asks
for a check through ``check_now``, like SIGUSR1, and hears the result.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from filelock import Timeout

from watch287g import health_watch
from watch287g.check_runner import CRASHED, FAILED, OK, TIMEOUT, CheckOutcome, CheckRunner
from watch287g.forkserver import ForkServerError
from watch287g.core import __version__
from watch287g.core.config import ConfigError
from watch287g.core.errors import BusyError, UserError
from watch287g.core.timeutil import parse_iso, to_iso, utcnow
from watch287g.frontends import Frontends
from watch287g.heartbeat import read_heartbeat, service_lock, write_heartbeat
from watch287g.schedule import ServiceSettings
from watch287g.settings import Settings
from watch287g.site.after_check import rebuild_report
from watch287g.state.store import Store, StoreBusy, StoreError

log = logging.getLogger("watch287g.service")

CHECK_NOW_JOB = "check-now"
DELIVER_JOB = "deliver"
# Bound on waiting for the checks worker to record a killed check.
_RECORD_WAIT_SECONDS = 30.0


class Service:
    def __init__(self, app: Settings, data_dir: Path, settings: ServiceSettings) -> None:
        from watch287g.alerts import (  # the service cannot run without them: fail at start
            digest,
            outbox,
        )

        self.app = app
        self.settings = settings
        self.store = Store(data_dir)
        self.runner = CheckRunner(app.config, data_dir)
        self._outbox, self._digest = outbox, digest
        self.stopping = threading.Event()
        self.started_at = to_iso(utcnow())
        self.last_results: dict[str, dict] = {}
        self._current: str | None = None           # the source being checked now
        self._check_now_queued = threading.Event()
        self._requests = threading.Lock()          # guards the three below
        self._waiting: list[Callable[[list[CheckOutcome]], None]] = []
        self._round_min_age: float | None = None    # None: an operator asked, check for real
        self._round_asked_at = utcnow()
        self._checking = threading.Lock()          # held by the checks worker while a check runs
        self._beat_lock = threading.Lock()
        self._stopped = False                      # the final heartbeat is written
        self.failure: str | None = None            # why the service stopped itself
        self.scheduler = self._build_scheduler()

    # --- life cycle -------------------------------------------------------

    def run(self) -> int:
        lock = service_lock(self.store.data_dir)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            beat = read_heartbeat(self.store.data_dir) or {}
            raise BusyError(f"a watch287g service is already running on {self.store.data_dir} "
                            f"(pid {beat.get('pid', '?')})") from None
        frontends = Frontends(self.app, self.store, checker=self)
        try:
            self.store.check_usable()
            self._start_check_server()
            self._install_signals()
            frontends.start()           # the web app and the Slack app, when configured
            self.scheduler.start()      # blocks until shutdown
            self._finish_running_check()
        finally:
            self._answer_waiting([])    # requests queued behind the shutdown: nothing was checked
            frontends.stop()
            self.beat("stopped" if self.failure is None else f"failed: {self.failure}", final=True)
            lock.release()
        if self.failure is not None:
            raise StoreError(self.failure)
        log.info("service stopped")
        return 0

    def _start_check_server(self) -> None:
        try:
            self.runner.start()
        except ForkServerError as err:
            # Each check tries again, and is recorded as failed while it cannot.
            log.warning("%s; checks will retry", err)

    def _build_scheduler(self) -> BlockingScheduler:
        s = self.settings
        scheduler = BlockingScheduler(
            timezone=s.tz,
            executors={"default": ThreadPoolExecutor(1), "checks": ThreadPoolExecutor(1),
                       "alerts": ThreadPoolExecutor(1)},
            # coalesce: a service that slept through several runs does one, not a burst;
            # max_instances=1: a job still running (or queued) skips its next turn.
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(s.misfire_grace_seconds)},
        )
        for source in s.sources:
            scheduler.add_job(self._check_job, s.check_trigger(source), args=[source.name],
                              id=f"check:{source.name}", name=f"check {source.name}", executor="checks")
        scheduler.add_job(self._deliver_job, IntervalTrigger(seconds=s.deliver_every_seconds, timezone=s.tz),
                          id=DELIVER_JOB, name="deliver due alerts", executor="alerts")
        for cadence in ("daily", "weekly"):
            trigger = s.digest_trigger(cadence)
            if trigger is not None:
                scheduler.add_job(self._digest_job, trigger, args=[cadence], id=f"digest:{cadence}",
                                  name=f"{cadence} digest", executor="alerts")
        scheduler.add_job(self.beat, IntervalTrigger(seconds=s.heartbeat_seconds, timezone=s.tz),
                          id="heartbeat", name="heartbeat")
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        return scheduler

    def _on_started(self, event) -> None:
        # Jobs have their first run times only once the scheduler has started.
        self.beat()
        log.info("service started (pid %d); next runs: %s", os.getpid(),
                 ", ".join(f"{job} {when}" for job, when in self.next_runs().items()))

    def _install_signals(self) -> None:
        # Handlers run on the main thread, which may be inside the scheduler's
        # own locked code: they only start a thread that does the work.
        def on_stop(signum, frame):
            threading.Thread(target=self.stop, args=(signal.Signals(signum).name,), daemon=True).start()

        def on_check_now(signum, frame):
            threading.Thread(target=self.check_now, daemon=True).start()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGUSR1, on_check_now)

    def stop(self, reason: str = "stop requested") -> None:
        """Stop scheduling; ``run`` then lets a running check finish (up to the grace period)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        log.info("%s: stopping", reason)
        for _ in range(200):     # a signal during start-up: wait for the scheduler to be running
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                time.sleep(0.05)

    def _finish_running_check(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        if not self._checking.acquire(timeout=grace):
            log.warning("check of %s still running after %g s: killing it", self._current, grace)
            self.runner.interrupt()
            if not self._checking.acquire(timeout=_RECORD_WAIT_SECONDS):
                return      # the check server stops the check when this process exits
        try:
            self.runner.close()              # start no other check, stop the check server
        finally:
            self._checking.release()

    # --- jobs ---------------------------------------------------------------

    def check_now(self, on_done: Callable[[list[CheckOutcome]], None] | None = None,
                  min_age_seconds: float | None = None) -> str:
        """Queue one check of every source on the checks worker.

        The operator's request (SIGUSR1: ``min_age_seconds`` None) always
        checks. A person's (``/287g check``) carries the politeness floor: a
        source whose last check started less than ``min_age_seconds`` ago,
        or ended after the request came (it was running), is not checked
        again; that check's result stands. A request while one is queued
        joins it (an operator's makes it a real check). ``on_done(outcomes)``
        is called when the round ends; with no outcome if the service stops
        first. Returns "queued", "behind" (queued behind the check running
        now), "joined" (one was queued already) or "stopping"."""
        with self._requests:
            if self.stopping.is_set():
                return "stopping"
            if on_done is not None:
                self._waiting.append(on_done)
            if self._check_now_queued.is_set():
                if min_age_seconds is None or self._round_min_age is None:
                    self._round_min_age = None
                else:
                    self._round_min_age = min(self._round_min_age, min_age_seconds)
                return "joined"
            self._check_now_queued.set()
            self._round_min_age, self._round_asked_at = min_age_seconds, utcnow()
        log.info("check of all sources requested")
        # No misfire limit: a request waiting behind a long check still runs.
        # Two instances: the round running now and the one queued behind it
        # (with one, a request made during a round would be skipped, unanswered).
        self.scheduler.add_job(self._check_all_job, id=CHECK_NOW_JOB, name="check all now", executor="checks",
                               misfire_grace_time=None, replace_existing=True, max_instances=2)
        return "behind" if self._current else "queued"

    def _check_all_job(self) -> None:
        with self._requests:
            self._check_now_queued.clear()
            min_age, asked_at = self._round_min_age, self._round_asked_at
            waiting, self._waiting = self._waiting, []
        outcomes = []
        for name in self.settings.source_names():
            outcome = None if min_age is None else self._recent_check(name, min_age, asked_at)
            outcome = outcome or self._check_job(name)
            if outcome is not None:
                outcomes.append(outcome)
        self._answer(waiting, outcomes)

    def _recent_check(self, source: str, min_age: float, asked_at) -> CheckOutcome | None:
        """The source's last check, when it answers a person's request."""
        db = self.store.read()
        last = db.checks.latest(source) if self.store.exists() else None
        if last is None or (parse_iso(last["started_at"]) < utcnow() - timedelta(seconds=min_age)
                            and parse_iso(last["finished_at"]) < asked_at):
            return None
        events = [dict(db.events.get(event_id)) for event_id in last.get("event_ids", ())]
        return CheckOutcome(source, OK if last["ok"] else FAILED, last["started_at"], last["finished_at"], None,
                            last["message"], events, reused=True)

    def _answer_waiting(self, outcomes: list[CheckOutcome]) -> None:
        with self._requests:
            waiting, self._waiting = self._waiting, []
        self._answer(waiting, outcomes)

    def _answer(self, waiting: list[Callable[[list[CheckOutcome]], None]], outcomes: list[CheckOutcome]) -> None:
        for on_done in waiting:
            self._guard("answer a check request", on_done, outcomes)

    def _check_job(self, source: str) -> CheckOutcome | None:
        if self.stopping.is_set():
            return None
        with self._checking:
            self._current = source
            try:
                outcome = self.runner.run(source, self.settings.source(source).check_timeout_seconds)
                log.log(logging.INFO if outcome.status == "ok" else logging.WARNING,
                        "check %s: %s %s", source, outcome.status, outcome.message)
                self.last_results[source] = outcome.summary()
                if not self.stopping.is_set():
                    self._guard("health", self._after_check, outcome)
                if outcome.status == "ok" and not self.stopping.is_set():
                    self._guard("report", rebuild_report, self.app, self.store.data_dir)
            finally:
                self._current = None
        self.beat()
        self._deliver_soon()
        return outcome

    def _after_check(self, outcome: CheckOutcome) -> None:
        now = utcnow()
        if outcome.status in (TIMEOUT, CRASHED):
            # The child died before it could record anything: the service
            # records the failure, so the streak and its alert still count it.
            health_watch.record_failed_check(self.store, self.app, outcome.source, outcome.started_at,
                                             outcome.finished_at, outcome.message,
                                             self.settings.source(outcome.source).failing_after, now)
        thresholds = {src.name: src.stale_after_days for src in self.settings.sources}
        health_watch.watch_staleness(self.store, self.app, thresholds, now)

    def _deliver_soon(self) -> None:
        """Run the delivery job now instead of at its next minute."""
        if not self.stopping.is_set():
            self._guard("deliver", self.scheduler.modify_job, DELIVER_JOB, next_run_time=utcnow())

    def _deliver_job(self) -> None:
        if not self.stopping.is_set():
            self._guard("deliver", self._deliver)

    def _deliver(self) -> None:
        result = self._outbox.deliver_due(self.store, self.app.alerts, self.app.subscriptions)
        if result.get("sent") or result.get("failed"):
            log.info("deliver: %d sent, %d failed, %d waiting", result["sent"], result["failed"], result["pending"])

    def _digest_job(self, cadence: str) -> None:
        if not self.stopping.is_set():
            self._guard(f"{cadence} digest", self._digest_send, cadence)

    def _digest_send(self, cadence: str) -> None:
        result = self._digest.send_digests(self.store, self.app.alerts, self.app.subscriptions, cadence)
        if result.get("released") or result.get("failed"):
            log.info("%s digest: %d released, %d sent, %d failed", cadence, result["released"], result["sent"],
                     result["failed"])

    def _guard(self, what: str, func, *args, **kwargs) -> None:
        """A job's failure is a log line, never the end of the service.
        Problems an operator can fix get one line; bugs keep their traceback."""
        try:
            func(*args, **kwargs)
        except (UserError, ConfigError, StoreBusy) as err:
            log.warning("%s: %s", what, err)
        except StoreError as err:
            # The state cannot be read or written: every job would fail the
            # same way. Stop, saying why, rather than look healthy.
            log.error("%s: %s; stopping the service", what, err)
            self.failure = str(err)
            self.stop(f"the state cannot be used: {err}")
        except SchedulerNotRunningError:
            pass  # shutting down
        except Exception:  # noqa: BLE001 - the service outlives a bug in one job
            log.exception("%s failed", what)

    # --- heartbeat ------------------------------------------------------------

    def next_runs(self) -> dict[str, str | None]:
        runs = {}
        for job in self.scheduler.get_jobs():
            when = job.next_run_time
            runs[job.id] = to_iso(when) if when else None
        return dict(sorted(runs.items()))

    def beat(self, state: str | None = None, final: bool = False) -> None:
        """Rewrite the heartbeat. After the final beat ("stopped", or why the
        service stopped itself), a worker thread still winding down must not
        overwrite it."""
        with self._beat_lock:
            if self._stopped:
                return
            self._stopped = final
            self._write_beat(state or ("stopping" if self.stopping.is_set() else "running"))

    def _write_beat(self, state: str) -> None:
        payload = {
            "pid": os.getpid(), "version": __version__, "state": state, "started_at": self.started_at,
            "last_tick": to_iso(utcnow()), "data_dir": str(self.store.data_dir),
            "config": self.app.origin, "checking": self._current,
            "next_runs": self.next_runs() if state == "running" else {},
            "last_results": dict(self.last_results),   # a copy: the checks worker adds to it
        }
        try:
            write_heartbeat(self.store.data_dir, payload)
        except OSError as err:
            log.warning("cannot write the heartbeat: %s", err)
